"""What the flow imports by name resolves from an installed tunelab, outside the checkout.

Run from the repository root, ``flows`` and ``pipelines`` import as top-level folders, so a
module list naming them works there and fails for a user: ``tunelab example`` in an empty
folder of a fresh clone stopped with "No module named 'flows'".
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = """
import importlib
from tunelab.flows.training import LATE_IMPORTS, SEARCH_IMPORTS
for name in SEARCH_IMPORTS + LATE_IMPORTS:
    importlib.import_module(name)
"""


def test_the_flow_early_imports_resolve_outside_the_checkout(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]

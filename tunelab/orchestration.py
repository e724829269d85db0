"""Finding the orchestrated entry points without importing them from the core.

The core (this package) must not import ``flows`` or ``deployments``, which sit above it.
They announce themselves as ``tunelab.orchestrators`` entry points in ``pyproject.toml``;
the CLI and API look them up by name at call time.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any

from tunelab.errors import ParameterError

GROUP = "tunelab.orchestrators"


def orchestrator(name: str) -> Callable[..., Any]:
    """``train``, ``predict`` or ``serve``: the Prefect implementation of that command."""
    found = [ep for ep in entry_points(group=GROUP) if ep.name == name]
    if not found:
        raise ParameterError(
            f"No orchestrator {name!r} is installed (entry point group {GROUP!r}); reinstall "
            "tunelab with `pip install -e .`, or run without Prefect (orchestrate=False, "
            "--no-prefect)"
        )
    return found[0].load()

"""The prediction tasks tunelab knows, defined once for the whole code base.

Kept free of heavy imports so the CLI and the run configuration can use it without loading
scikit-learn or the boosting libraries.
"""

from __future__ import annotations

from typing import Literal

TaskKind = Literal["binary", "multiclass", "regression"]
TaskOption = Literal["auto", "binary", "multiclass", "regression"]
TASK_KINDS: tuple[str, ...] = ("binary", "multiclass", "regression")


def is_classification(task: str) -> bool:
    return task != "regression"

"""Stage one of every run: load, validate, and decide the task and metric."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from tunelab.data import (
    check_fold_sizes,
    check_parameters,
    load_table,
    split_features_target,
)
from tunelab.provenance import fingerprint
from tunelab.task import TaskKind, resolve_metric, resolve_task


@dataclass
class PreparedData:
    features: pd.DataFrame
    target: pd.Series
    task: TaskKind
    metric: str
    dropped_target_rows: int
    fingerprint: str


def prepare_data(
    data: str | Path | pd.DataFrame,
    target: str,
    *,
    task: str = "auto",
    metric: str | None = None,
    outer_folds: int = 3,
    inner_folds: int = 3,
    test_size: float = 0.2,
    max_evals: int = 30,
) -> PreparedData:
    """Raises :class:`~tunelab.errors.TunelabError` for anything that would fail later."""
    check_parameters(outer_folds, inner_folds, test_size, max_evals)
    frame = load_table(data)
    validated = split_features_target(frame, target)
    resolved_task = resolve_task(task, validated.target)
    check_fold_sizes(validated.target, resolved_task, outer_folds, inner_folds, test_size)
    return PreparedData(
        features=validated.features,
        target=validated.target,
        task=resolved_task,
        metric=resolve_metric(metric, resolved_task),
        dropped_target_rows=validated.dropped_target_rows,
        fingerprint=fingerprint(frame),
    )

"""Task inference and the metrics that make sense for each task."""

from __future__ import annotations

import pandas as pd

from tunelab.errors import DataValidationError, ParameterError
from tunelab.metrics import DEFAULT_METRICS, METRICS_BY_TASK
from tunelab.models.kinds import TaskKind, TaskOption, is_classification

__all__ = ["TaskKind", "TaskOption", "infer_task", "resolve_metric", "resolve_task"]

#: Integer targets with at most this many distinct values are treated as class labels.
MAX_INTEGER_CLASSES = 20


def infer_task(target: pd.Series) -> TaskKind:
    """Text, booleans and small sets of integers are classes; everything else is regression."""
    values = target.dropna()
    distinct = values.nunique()
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    if numeric:
        whole_numbers = bool((values == values.round()).all())
        if not (whole_numbers and distinct <= MAX_INTEGER_CLASSES):
            return "regression"
    return "binary" if distinct == 2 else "multiclass"


def resolve_task(requested: str, target: pd.Series) -> TaskKind:
    if requested not in ("auto", "binary", "multiclass", "regression"):
        raise ParameterError(
            f"Unknown task {requested!r}; use auto, binary, multiclass or regression"
        )
    task: TaskKind = infer_task(target) if requested == "auto" else requested  # type: ignore[assignment]
    values = target.dropna()
    distinct = values.nunique()
    if not is_classification(task) and not pd.api.types.is_numeric_dtype(values):
        raise DataValidationError(
            f"Target column {target.name!r} is not numeric, so it cannot be used for regression "
            f"(example value: {values.iloc[0]!r})"
        )
    if is_classification(task) and distinct < 2:
        only = values.iloc[0] if len(values) else None
        raise DataValidationError(
            f"Target column {target.name!r} has a single class ({only!r}); "
            "classification needs at least two"
        )
    if task == "binary" and distinct != 2:
        raise DataValidationError(
            f"Task 'binary' needs exactly two classes, but target {target.name!r} has {distinct}"
        )
    if task == "multiclass" and distinct > max(50, len(values) // 2):
        raise DataValidationError(
            f"Target {target.name!r} has {distinct} distinct values for {len(values)} rows; "
            "that looks like a regression target (pass task='regression')"
        )
    return task


def resolve_metric(metric: str | None, task: TaskKind) -> str:
    if metric is None or metric == "":
        return DEFAULT_METRICS[task]
    allowed = METRICS_BY_TASK[task]
    if metric not in allowed:
        raise ParameterError(
            f"Metric {metric!r} is not available for {task} tasks; "
            f"choose one of: {', '.join(allowed)}"
        )
    return metric

"""The one place that decides how rows are split: held-out test, outer folds, inner folds.

Why one module: the honest estimate holds only if every split of a run follows the data's
structure. A repeated entity (``group_column``) must never be on both sides of a split, and
time-ordered data (``time_column``) must always be validated on rows later than the rows it
was trained on. If the held-out test, the outer folds of nested CV and the inner folds of each
search chose their splitters separately, one forgotten place would leak. The group, time and
weight columns stay in the feature table (the schema marks group and weight ``dropped``, so
no pipeline reads them) and travel with every slice of it, so each split can read them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import (
    GroupKFold,
    GroupShuffleSplit,
    KFold,
    StratifiedGroupKFold,
    StratifiedKFold,
    TimeSeriesSplit,
    train_test_split,
)

from tunelab.atomic import write_json_atomic
from tunelab.errors import DataValidationError
from tunelab.listing import some_names
from tunelab.models.kinds import is_classification

Splits = list[tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class SplitPlan:
    """How a run splits its rows; the default is shuffled (stratified) random splits."""

    group_column: str | None = None
    time_column: str | None = None
    gap: int = 0
    weight_column: str | None = None

    @classmethod
    def from_config(cls, config: Any) -> SplitPlan:
        return cls(config.group_column, config.time_column, config.gap, config.weight_column)

    @property
    def kind(self) -> str:
        if self.group_column:
            return "group"
        return "time" if self.time_column else "random"

    @property
    def not_features(self) -> dict[str, str]:
        """Columns no pipeline may read, with the reason the schema records for each."""
        reasons = {}
        if self.group_column:
            reasons[self.group_column] = "group column (group_column): splits by it"
        if self.weight_column:
            reasons[self.weight_column] = "row weights (weight_column)"
        return reasons

    @property
    def key_columns(self) -> list[str]:
        """Columns batch predictions keep next to the predictions."""
        return [c for c in (self.group_column, self.time_column) if c]


def make_cv(task: str, folds: int, seed: int) -> KFold | StratifiedKFold:
    """The random splitter (no groups, no time order): stratified for classification."""
    if not is_classification(task):
        return KFold(n_splits=folds, shuffle=True, random_state=seed)
    return StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)


def time_values(column: pd.Series) -> pd.Series:
    """The time column as sortable values: UTC timestamps for dates, floats for numbers."""
    name = column.name
    if column.isna().any():
        raise DataValidationError(
            f"Time column {name!r} has {int(column.isna().sum())} missing values; fill or "
            "drop those rows"
        )
    if pd.api.types.is_bool_dtype(column):
        raise DataValidationError(f"Time column {name!r} holds booleans, not dates or numbers")
    if pd.api.types.is_numeric_dtype(column):
        return column.astype(float)
    if pd.api.types.is_datetime64_any_dtype(column):
        return column if column.dt.tz is not None else column.dt.tz_localize("UTC")
    parsed = pd.to_datetime(column.astype(str), errors="coerce", format="ISO8601", utc=True)
    if parsed.isna().any():
        bad = column[parsed.isna()].iloc[0]
        raise DataValidationError(
            f"Time column {name!r} must hold ISO-8601 dates or numbers, but holds values such "
            f"as {bad!r}"
        )
    return parsed


def _time_key(X: pd.DataFrame, plan: SplitPlan) -> np.ndarray:
    values = time_values(X[plan.time_column])
    if pd.api.types.is_datetime64_any_dtype(values):
        return values.astype("int64").to_numpy()
    return values.to_numpy(dtype=float)


def fold_splits(
    X: pd.DataFrame, y: pd.Series, task: str, folds: int, seed: int, plan: SplitPlan
) -> Splits:
    """``folds`` (train, validation) row positions of ``X``, following ``plan``."""
    if plan.time_column:
        return forward_chaining(_time_key(X, plan), folds, plan.gap)
    if plan.group_column:
        groups = X[plan.group_column].to_numpy()
        cv: Any = (
            GroupKFold(folds, shuffle=True, random_state=seed)
            if not is_classification(task)
            else StratifiedGroupKFold(folds, shuffle=True, random_state=seed)
        )
        return [(tr, va) for tr, va in cv.split(np.zeros(len(y)), y, groups)]
    return list(make_cv(task, folds, seed).split(np.zeros(len(y)), y))


#: Outer folds use a different seed from the inner ones, so the partitions are not aligned.
OUTER_SEED_OFFSET = 7919


def outer_fold_splits(X: pd.DataFrame, y: pd.Series, settings: Any, folds: int) -> Splits:
    """The outer folds of nested CV over the training rows (``settings``: SearchSettings)."""
    seed = settings.seed + OUTER_SEED_OFFSET
    return fold_splits(X, y, settings.schema.task, folds, seed, settings.plan)


def inner_fold_splits(X: pd.DataFrame, y: pd.Series, settings: Any) -> Splits:
    """The inner folds every trial of a search is scored on: one holdout on a table large for
    its budget, with random splits (:mod:`tunelab.fidelity`), where one fit is worth more than k."""
    from tunelab.fidelity import holdout_split

    task, folds = settings.schema.task, settings.inner_folds
    if settings.one_holdout(len(X)):
        return holdout_split(task, len(X), y, settings.seed)
    return fold_splits(X, y, task, folds, settings.seed, settings.plan)


def forward_chaining(key: np.ndarray, folds: int, gap: int) -> Splits:
    """``TimeSeriesSplit`` over the rows sorted by ``key``, strictly forward.

    Rows sharing the first validation timestamp are taken out of the training part, so every
    validation row is later than every training row even when timestamps repeat.
    """
    order = np.argsort(key, kind="stable")
    splits = []
    try:
        chunks = list(TimeSeriesSplit(n_splits=folds, gap=gap).split(order))
    except ValueError as exc:
        raise DataValidationError(f"Too few rows for {folds} time-ordered folds: {exc}") from None
    for train, validation in chunks:
        train_rows, validation_rows = order[train], order[validation]
        train_rows = train_rows[key[train_rows] < key[validation_rows].min()]
        if len(train_rows) == 0:
            raise DataValidationError(
                f"The time column has too few distinct values for {folds} time-ordered folds"
            )
        splits.append((np.sort(train_rows), np.sort(validation_rows)))
    return splits


def holdout_positions(
    features: pd.DataFrame, target: pd.Series, task: str, test_size: float, seed: int,
    plan: SplitPlan,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Row positions (train, test) of the held-out test split."""
    rows = np.arange(len(target))
    if plan.time_column:
        return latest_rows(_time_key(features, plan), test_size)
    if plan.group_column:
        groups = features[plan.group_column].to_numpy()
        if not is_classification(task):
            cv: Any = GroupShuffleSplit(n_splits=1, test_size=test_size, random_state=seed)
        else:  # one fold of a stratified group split, about test_size of the rows
            parts = max(2, round(1 / test_size))
            cv = StratifiedGroupKFold(parts, shuffle=True, random_state=seed)
        train, test = next(iter(cv.split(rows, target, groups)))
        return train, test
    stratify = target if is_classification(task) else None
    train, test = train_test_split(rows, test_size=test_size, random_state=seed, stratify=stratify)
    return train, test


def latest_rows(key: np.ndarray, test_size: float) -> tuple[np.ndarray, np.ndarray]:
    """The latest ``test_size`` share of rows as the test part; a timestamp is never split
    (rows sharing the boundary timestamp all go to the test part)."""
    order = np.argsort(key, kind="stable")
    boundary = key[order[len(key) - math.ceil(len(key) * test_size)]]
    train, test = np.flatnonzero(key < boundary), np.flatnonzero(key >= boundary)
    if len(train) == 0:
        raise DataValidationError(
            "The time column has too few distinct values to hold out the latest rows"
        )
    return train, test


def check_split_columns(
    frame: pd.DataFrame, plan: SplitPlan, task: str, outer_folds: int, inner_folds: int,
    test_size: float,
) -> None:  # fmt: skip
    """Bad split settings fail here, before any search: missing columns, too few groups,
    a time column that is neither a date nor a number, unusable weights."""
    from tunelab.weights import check_weights

    for setting in ("group_column", "time_column", "weight_column"):
        column = getattr(plan, setting)
        if column is not None and column not in frame.columns:
            raise DataValidationError(
                f"{setting} {column!r} is not a column of the table; columns: "
                f"{some_names(frame.columns)}"
            )
    if plan.group_column:
        _check_groups(frame[plan.group_column], outer_folds, inner_folds, test_size)
    if plan.time_column:
        time_values(frame[plan.time_column])
    if plan.weight_column:
        check_weights(frame[plan.weight_column])


def check_early_classes(
    features: pd.DataFrame, target: pd.Series, task: str, plan: SplitPlan,
    outer_folds: int, inner_folds: int, test_size: float,
) -> None:  # fmt: skip
    """Forward chaining trains its first folds on the earliest rows only; if those hold a
    single class no classifier can be fitted, so every trial would fail. Say so up front."""
    if not plan.time_column or not is_classification(task):
        return
    key = _time_key(features, plan)
    train, _ = latest_rows(key, test_size)
    outer_train, _ = forward_chaining(key[train], outer_folds, plan.gap)[0]
    rows = train[outer_train]
    inner_train, _ = forward_chaining(key[rows], inner_folds, plan.gap)[0]
    earliest = target.iloc[rows[inner_train]]
    if earliest.nunique() < 2:
        last = features[plan.time_column].iloc[rows[inner_train]].max()
        raise DataValidationError(
            f"With time_column {plan.time_column!r}, the earliest training part (the "
            f"{len(earliest)} rows up to {last}) holds only class {earliest.tolist()[0]!r}, so no "
            "classifier can be fitted on it; use fewer outer or inner folds"
        )


def _check_groups(groups: pd.Series, outer_folds: int, inner_folds: int, test_size: float) -> None:
    if groups.isna().any():
        raise DataValidationError(
            f"Group column {groups.name!r} has {int(groups.isna().sum())} missing values; "
            "give every row a group"
        )
    in_outer_train = max(outer_folds, math.ceil(inner_folds * outer_folds / (outer_folds - 1)))
    needed = math.ceil(in_outer_train / (1 - test_size)) + 1
    count = groups.nunique()
    if count < needed:
        raise DataValidationError(
            f"Group column {groups.name!r} has {count} groups; {outer_folds} outer x "
            f"{inner_folds} inner folds with test_size={test_size} need at least {needed}. "
            "Use fewer folds or a finer group column"
        )


def mark_split_columns(schema: Any, plan: SplitPlan) -> Any:
    """The schema with the group and weight columns dropped (no pipeline reads them; they
    may still be present at prediction time) and the key columns predictions keep."""
    from dataclasses import replace

    reasons = plan.not_features
    columns = [
        replace(c, role="dropped", reason=reasons[c.name]) if c.name in reasons else c
        for c in schema.columns
    ]
    extra = {**schema.extra, "key_columns": plan.key_columns} if plan.key_columns else schema.extra
    return replace(schema, columns=columns, extra=extra)


def side_summary(part: pd.DataFrame, plan: SplitPlan) -> dict[str, Any]:
    """What a run records about one side of a split: its rows, and its groups or period."""
    summary: dict[str, Any] = {"rows": len(part)}
    if plan.group_column:
        summary["groups"] = sorted({str(g) for g in part[plan.group_column]})
    if plan.time_column:
        summary["period"] = period(part, plan)
    return summary


def period(X: pd.DataFrame, plan: SplitPlan) -> list[Any] | None:
    """``[first, last]`` of the time column: ISO-8601 for dates, numbers as they are."""
    if not plan.time_column or len(X) == 0:
        return None
    values = time_values(X[plan.time_column])
    first, last = values.min(), values.max()
    if isinstance(first, pd.Timestamp):
        return [first.isoformat(), last.isoformat()]
    return [float(first), float(last)]


def record_splits(
    path: Path | None, X: pd.DataFrame, splits: Sequence[tuple[np.ndarray, np.ndarray]],
    plan: SplitPlan, sides: tuple[str, str] = ("train", "validation"),
) -> None:  # fmt: skip
    """Writes each split's sides (rows, groups, period) to ``path``: the run's own record of
    what it kept apart, which tests and users can check without re-deriving the splits."""
    if path is None:
        return
    record = {
        "kind": plan.kind,
        "splits": [
            {
                sides[0]: side_summary(X.iloc[a], plan),
                sides[1]: side_summary(X.iloc[b], plan),
            }
            for a, b in splits
        ],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, record)


def record_holdout(run_dir: Path, split: Any, plan: SplitPlan) -> None:
    """``run_dir/splits/holdout.json``: the held-out test split's two sides."""
    record = {
        "kind": plan.kind,
        "splits": [
            {"train": side_summary(split.X_train, plan), "test": side_summary(split.X_test, plan)}
        ],
    }
    path = run_dir / "splits" / "holdout.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, record)

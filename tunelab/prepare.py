"""Stage one of every run: load, validate, and decide the task and metric."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import pandas as pd

from tunelab.compact import compact_frame, compacts, return_freed_memory
from tunelab.config import RunConfig
from tunelab.data import check_fold_sizes, consolidated, load_table, split_features_target
from tunelab.models.kinds import TaskKind
from tunelab.provenance import fingerprint
from tunelab.splits import SplitPlan, check_early_classes, check_split_columns
from tunelab.task import resolve_metric, resolve_task


@dataclass
class PreparedData:
    source: str
    features: pd.DataFrame
    target: pd.Series
    task: TaskKind
    metric: str
    dropped_target_rows: int
    fingerprint: str
    #: How the run splits and weights its rows (group, time and weight columns).
    plan: SplitPlan = field(default_factory=SplitPlan)
    #: Were the features held compact (:mod:`tunelab.compact`)? Its pipelines then cast to
    #: float32; kept when :func:`without_rows` drops the rows.
    compact: bool = False


def prepare_data(config: RunConfig, frame: pd.DataFrame | None = None) -> PreparedData:
    """Reads ``config.data`` (or uses ``frame``) and raises a TunelabError for anything that
    would fail later, so bad input fails in seconds, not after a search."""
    table = load_table(
        frame if frame is not None else config.data, table=config.table, query=config.query
    )
    validated = split_features_target(table, config.target)
    resolved_task = resolve_task(config.task, validated.target)
    check_fold_sizes(
        validated.target, resolved_task, config.outer_folds, config.inner_folds, config.test_size
    )
    plan = SplitPlan.from_config(config)
    check_split_columns(
        validated.features, plan, resolved_task, config.outer_folds, config.inner_folds,
        config.test_size,
    )  # fmt: skip
    check_early_classes(
        validated.features, validated.target, resolved_task, plan, config.outer_folds,
        config.inner_folds, config.test_size,
    )  # fmt: skip
    return PreparedData(
        source=config.data,
        features=held_features(validated.features, plan),
        target=validated.target,
        task=resolved_task,
        metric=resolve_metric(config.metric, resolved_task),
        dropped_target_rows=validated.dropped_target_rows,
        fingerprint=fingerprint(table),
        plan=plan,
        compact=compacts(len(validated.features)),
    )


def held_features(features: pd.DataFrame, plan: SplitPlan | None = None) -> pd.DataFrame:
    """The features as the run holds them: compact above :data:`tunelab.compact.COMPACT_ROWS`
    rows (a new frame, one block per dtype; the plan's group, time and weight columns as they
    are), else consolidated into one block per dtype."""
    if not compacts(len(features)):
        return consolidated(features)
    plan = plan or SplitPlan()
    kept = [c for c in (plan.group_column, plan.time_column, plan.weight_column) if c]
    held = compact_frame(features, keep=kept)
    return_freed_memory()  # what reading the text took is not in use any more
    return held


def without_rows(prepared: PreparedData) -> PreparedData:
    """``prepared`` with zero-row features and target (columns and dtypes kept): what the
    engine keeps once the hold-out split has copied the rows into its train and test parts."""
    return replace(prepared, features=prepared.features.iloc[:0], target=prepared.target.iloc[:0])

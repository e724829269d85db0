"""Column roles inferred once from the training table and stored with the model.

The schema is the contract between training and prediction: the pipeline is built from it,
and batch prediction checks new data against it before any model code runs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import pandas as pd

from tunelab.models.kinds import TaskKind, is_classification

ColumnRole = Literal["numeric", "categorical", "high_cardinality", "datetime", "dropped"]

#: Above this many distinct values a categorical column is target-encoded instead of one-hot.
ONE_HOT_MAX_CATEGORIES = 15
#: ``DataSchema.extra`` key set for a table held compact (:mod:`tunelab.compact`).
COMPACT_KEY = "compact"
#: Fraction of sampled values that must parse as ISO-8601 for a text column to count as a date.
DATE_PARSE_THRESHOLD = 0.95


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    dtype: str
    role: ColumnRole
    reason: str = ""


@dataclass
class DataSchema:
    target: str
    task: TaskKind
    columns: list[ColumnSpec]
    classes: list[Any] | None = None
    target_dtype: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def feature_names(self) -> list[str]:
        """Every input column seen in training, including dropped ones (they may be present)."""
        return [column.name for column in self.columns]

    @property
    def used_columns(self) -> list[str]:
        """Columns the pipeline reads; these must be present at prediction time."""
        return [column.name for column in self.columns if column.role != "dropped"]

    @property
    def compact(self) -> bool:
        """Was the table held compact (:mod:`tunelab.compact`)? Its fits are the large ones."""
        return bool(self.extra.get(COMPACT_KEY))

    @property
    def numeric_dtype(self) -> str:
        """What the pipeline turns numbers into: float32 for a table held compact (its model
        then sees the same values at prediction as in its fit), float64 otherwise."""
        return "float32" if self.compact else "float64"

    def names_with_role(self, role: ColumnRole) -> list[str]:
        return [column.name for column in self.columns if column.role == role]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DataSchema:
        columns = [ColumnSpec(**column) for column in data["columns"]]
        return cls(**{**data, "columns": columns})


def looks_like_iso_dates(values: pd.Series) -> bool:
    """Only ISO-8601 strings count as dates: guessing other formats silently mis-parses data."""
    sample = values.dropna().astype(str).head(200)
    if sample.empty or not sample.str.contains(r"^\d{4}-\d{2}-\d{2}", regex=True).all():
        return False
    parsed = pd.to_datetime(sample, errors="coerce", format="ISO8601", utc=True)
    return parsed.notna().mean() >= DATE_PARSE_THRESHOLD


def infer_column_role(series: pd.Series) -> tuple[ColumnRole, str]:
    non_missing = series.dropna()
    if non_missing.empty:
        return "dropped", "all values missing"
    if non_missing.nunique() <= 1:
        return "dropped", "constant"
    if pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series):
        return "numeric", ""
    if pd.api.types.is_datetime64_any_dtype(series):
        return "datetime", ""
    if looks_like_iso_dates(series):
        return "datetime", "ISO-8601 text"
    distinct = non_missing.nunique()
    if distinct == len(series) and len(series) > 2 * ONE_HOT_MAX_CATEGORIES:
        return "dropped", "identifier (every value unique)"
    if distinct <= ONE_HOT_MAX_CATEGORIES:
        return "categorical", ""
    return "high_cardinality", f"{distinct} distinct values"


def infer_schema(features: pd.DataFrame, target: pd.Series, task: TaskKind) -> DataSchema:
    columns = []
    for name in features.columns:
        role, reason = infer_column_role(features[name])
        columns.append(ColumnSpec(str(name), str(features[name].dtype), role, reason))
    classes = sorted(target.unique().tolist(), key=str) if is_classification(task) else None
    return DataSchema(
        target=str(target.name),
        task=task,
        columns=columns,
        classes=classes,
        target_dtype=str(target.dtype),
    )

"""The column-wise preprocessing step, built from a :class:`DataSchema`."""

from __future__ import annotations

from typing import Any

from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler, TargetEncoder

from tunelab.models.kinds import is_classification
from tunelab.pipelines.compact_steps import CategoryCodes, MedianImputer
from tunelab.pipelines.schema import ONE_HOT_MAX_CATEGORIES, DataSchema
from tunelab.pipelines.transformers import (
    CategoryCleaner,
    DateFeatures,
    FloatCast,
    NumericCaster,
    column_median,
)


class NamedColumnTransformer(ColumnTransformer):
    """A ``ColumnTransformer`` that finds its columns in a data frame by one hash lookup each.

    Why: scikit-learn finds each selected name with ``list.index``, which is quadratic in the
    width. On a 150 x 5,000 table that was 0.1 s of every pipeline fit, whatever the model
    (6 of 21 s of fits in a profiled run). Only the lookup differs. A fitted transformer
    reads a scoring frame by label, as ``ColumnTransformer`` does, so the order of its
    columns still does not matter. Anything but lists of names present in ``X`` (a missing
    column, duplicated labels, an array) goes to scikit-learn's own lookup and its errors.
    """

    def _validate_column_callables(self, X: Any) -> None:
        labels = list(getattr(X, "columns", []))
        position = {label: index for index, label in enumerate(labels)}
        selections = [columns for _, _, columns in self.transformers]
        if len(position) != len(labels) or not all(
            isinstance(columns, list) and all(name in position for name in columns)
            for columns in selections
        ):
            super()._validate_column_callables(X)
            return
        self._columns = selections
        self._transformer_to_input_indices = {
            name: [position[label] for label in columns] for name, _, columns in self.transformers
        }


def _numeric_steps(scale: bool, compact: bool = False) -> list[tuple[str, object]]:
    # add_indicator keeps "was missing" as a signal instead of hiding it behind the median.
    # A compact table's medians are taken one column at a time (the same values):
    # scikit-learn's own median sorts a masked copy of the whole matrix, 280 MiB at its peak
    # for 800,000 x 16 float32 numbers, the largest step of a million-row run's refit.
    median = column_median if compact else "median"
    steps: list[tuple[str, object]] = [
        ("impute", SimpleImputer(strategy=median, add_indicator=True, keep_empty_features=True))
    ]
    if scale:
        steps.append(("scale", StandardScaler()))
    return steps


def _numeric_branch(dtype: str, scale: bool, compact: bool) -> Pipeline:
    """Numbers as ``dtype``, imputed (and scaled): on a compact table in one array
    (:class:`MedianImputer`), the scaler then working in place on it."""
    if not compact:
        return Pipeline([("cast", NumericCaster(dtype)), *_numeric_steps(scale)])
    steps: list[tuple[str, object]] = [("impute", MedianImputer(dtype))]
    if scale:
        steps.append(("scale", StandardScaler(copy=False)))
    return Pipeline(steps)


def _target_encoding_steps(task: str, compact: bool, seed: int) -> list[tuple[str, object]]:
    """TargetEncoder cross-fits internally, so the encoding of a row never uses its own
    target. A compact table's categories reach it as integer codes (the same encodings)."""
    target_type = "continuous" if not is_classification(task) else "auto"
    clean = CategoryCodes() if compact else CategoryCleaner()
    return [
        ("clean", clean),
        ("encode", TargetEncoder(target_type=target_type, random_state=seed)),
    ]


def make_preprocessor(schema: DataSchema, *, scale: bool, seed: int) -> ColumnTransformer:
    """One branch per column role; dropped columns are simply not selected."""
    branches = []
    dtype, compact = schema.numeric_dtype, schema.compact
    # float64 branches are cast back on a compact table (each step keeps float32 otherwise).
    cast = [("float32", FloatCast(dtype))] if compact else []
    numeric = schema.names_with_role("numeric")
    if numeric:
        branches.append(("numeric", _numeric_branch(dtype, scale, compact), numeric))
    categorical = schema.names_with_role("categorical")
    if categorical:
        encoder = OneHotEncoder(
            handle_unknown="infrequent_if_exist",
            max_categories=ONE_HOT_MAX_CATEGORIES + 1,
            sparse_output=False,
            dtype=dtype,
        )
        branches.append(
            (
                "categorical",
                Pipeline([("clean", CategoryCleaner()), ("encode", encoder)]),
                categorical,
            )
        )
    high_cardinality = schema.names_with_role("high_cardinality")
    # A compact table's target encoder works one column at a time (its own branch): what it
    # holds while cross-fitting grows with the columns it encodes at once, and its folds
    # depend on the target and the seed only, so the encodings are the same.
    groups = [[name] for name in high_cardinality] if compact else [high_cardinality]
    for index, group in enumerate(group for group in groups if group):
        steps = _target_encoding_steps(schema.task, compact, seed)
        if scale:
            steps.append(("scale", StandardScaler()))
        name = f"high_cardinality_{index}" if compact else "high_cardinality"
        branches.append((name, Pipeline([*steps, *cast]), group))
    dates = schema.names_with_role("datetime")
    if dates:
        branches.append(
            (
                "datetime",
                Pipeline([("expand", DateFeatures()), *_numeric_steps(scale, compact), *cast]),
                dates,
            )
        )
    if not branches:
        raise ValueError("No usable feature columns: every column was dropped as constant or empty")
    return NamedColumnTransformer(branches, remainder="drop", sparse_threshold=0.0)

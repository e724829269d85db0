"""Scoring new rows with a registered model, after checking them against its training schema."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from tunelab.data import check_columns, check_nested_values
from tunelab.errors import DataValidationError
from tunelab.listing import some_names
from tunelab.models.kinds import is_classification
from tunelab.pipelines import DataSchema
from tunelab.store import RegisteredModel

ExtraColumns = Literal["error", "ignore"]


def check_prediction_input(
    frame: pd.DataFrame, schema: DataSchema, extra_columns: ExtraColumns = "error"
) -> pd.DataFrame:
    """Rejects data the model would silently mis-score: missing, unexpected or mistyped columns."""
    frame = check_columns(frame)
    if len(frame) == 0:
        raise DataValidationError("The prediction table is empty (no rows)")
    missing = [c for c in schema.used_columns if c not in frame.columns]
    if missing:
        raise DataValidationError(
            f"Prediction data is missing columns the model needs: {some_names(missing)}"
        )
    known = set(schema.feature_names) | {schema.target}
    extra = [c for c in frame.columns if c not in known]
    if extra and extra_columns == "error":
        raise DataValidationError(
            f"Prediction data has columns the model was not trained on: "
            f"{some_names(extra)} (pass extra_columns='ignore' to drop them)"
        )
    check_nested_values(frame[[c for c in schema.used_columns if c in frame.columns]])
    for column in schema.columns:
        if column.role == "numeric":
            _check_numeric(frame[column.name])
        elif column.role == "datetime":
            _check_dates(frame[column.name])
    present = [c for c in schema.feature_names if c in frame.columns]
    return frame[present]


def _check_numeric(values: pd.Series) -> None:
    if pd.api.types.is_bool_dtype(values):
        return
    converted = pd.to_numeric(values, errors="coerce")
    bad = values.notna() & converted.isna()
    if bad.any():
        raise DataValidationError(
            f"Column {values.name!r} must be numeric, but holds values such as "
            f"{values[bad].iloc[0]!r}"
        )
    if np.isinf(converted.to_numpy(dtype=float)).any():
        raise DataValidationError(f"Column {values.name!r} contains infinite values")


def _check_dates(values: pd.Series) -> None:
    if pd.api.types.is_datetime64_any_dtype(values):
        return
    # utc=True: offsets that change at a daylight-saving switch are one instant each.
    parsed = pd.to_datetime(values, errors="coerce", format="ISO8601", utc=True)
    bad = values.notna() & parsed.isna()
    if bad.any():
        raise DataValidationError(
            f"Column {values.name!r} must hold ISO-8601 dates, but holds values such as "
            f"{values[bad].iloc[0]!r}"
        )


def predict_frame(
    entry: RegisteredModel, frame: pd.DataFrame, extra_columns: ExtraColumns = "error"
) -> pd.DataFrame:
    """Predictions (and one probability column per class) aligned to the input's index.

    One pass through the model: a classifier's label is the class with the highest
    probability (``classes_[argmax]``, what ``predict`` computes from the same
    probabilities), so rows are not run through the pipeline twice.
    """
    schema = DataSchema.from_dict(entry.metadata["schema"])
    features = check_prediction_input(frame, schema, extra_columns)
    output = pd.DataFrame(index=frame.index)
    if not is_classification(schema.task):
        output["prediction"] = entry.model.predict(features)
        return output
    probabilities = entry.model.predict_proba(features)
    classes = np.asarray(entry.model.classes_)
    output["prediction"] = classes[np.argmax(probabilities, axis=1)]
    for i, label in enumerate(classes):
        output[f"proba_{label}"] = probabilities[:, i]
    return output

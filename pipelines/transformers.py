"""Small transformers that make raw pandas columns safe for scikit-learn encoders.

They live in the pipeline (not in a pre-processing script) so the exact same cleaning runs
inside every cross-validation fold and again at prediction time.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

MISSING_CATEGORY = "__missing__"


def as_frame(X) -> pd.DataFrame:
    return X if isinstance(X, pd.DataFrame) else pd.DataFrame(X)


class NumericCaster(TransformerMixin, BaseEstimator):
    """Turns booleans, nullable integers and numeric text into ``dtype`` (float64 unless the
    table is held compact, see :mod:`tunelab.compact`) with NaN for missing."""

    def __init__(self, dtype: str = "float64"):
        self.dtype = dtype

    def fit(self, X, y=None):
        self.n_features_in_ = as_frame(X).shape[1]
        return self

    def transform(self, X):
        frame = as_frame(X)
        # Models saved before ``dtype`` existed have no such attribute: they used float64.
        dtype = getattr(self, "dtype", "float64")
        if not frame.shape[1]:
            return np.empty((len(frame), 0), dtype=dtype)
        if all(isinstance(dtype_, np.dtype) and dtype_.kind in "biuf" for dtype_ in frame.dtypes):
            # Plain numpy numbers and booleans: one conversion of the whole block. Per column,
            # pandas' overhead made a 5,000-column table cost seconds per transform.
            return frame.to_numpy(dtype=dtype)
        return np.column_stack([column_as_numbers(frame[c], dtype) for c in frame.columns])

    def get_feature_names_out(self, input_features=None):
        return np.asarray(input_features, dtype=object)


def column_as_numbers(column: pd.Series, dtype: str) -> np.ndarray:
    """One column as ``dtype`` with NaN for missing: numpy numbers and booleans directly,
    anything else (nullable integers, numeric text) through ``pd.to_numeric``."""
    if isinstance(column.dtype, np.dtype) and column.dtype.kind in "biuf":
        return column.to_numpy(dtype=dtype)
    return pd.to_numeric(column, errors="coerce").to_numpy(dtype=dtype, na_value=np.nan)


def column_median(values: np.ndarray) -> float:
    """The median of one column's present values (``SimpleImputer`` hands it them alone)."""
    return float(np.median(values)) if len(values) else 0.0


class FloatCast(TransformerMixin, BaseEstimator):
    """Casts an encoder's output to ``dtype``, so a compact table's branches stack as float32
    instead of upcasting the whole preprocessed matrix to float64."""

    def __init__(self, dtype: str = "float32"):
        self.dtype = dtype

    def fit(self, X, y=None):
        self.n_features_in_ = np.shape(X)[1]
        return self

    def transform(self, X):
        return np.asarray(X, dtype=self.dtype)

    def get_feature_names_out(self, input_features=None):
        return np.asarray(input_features, dtype=object)


class CategoryCleaner(TransformerMixin, BaseEstimator):
    """Casts categories to plain strings and names missing values, so encoders see one type."""

    def fit(self, X, y=None):
        self.n_features_in_ = as_frame(X).shape[1]
        return self

    def transform(self, X):
        frame = as_frame(X)
        cleaned = {c: _cleaned(frame[c]) for c in frame.columns}
        return pd.DataFrame(cleaned, index=frame.index)

    def get_feature_names_out(self, input_features=None):
        return np.asarray(input_features, dtype=object)


def _cleaned(column: pd.Series) -> np.ndarray:
    """Plain strings with missing values named. A ``category`` column (a compact table's,
    :mod:`tunelab.compact`) is cleaned once per category and expanded through its codes, so
    its rows share one string object per category instead of one each."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        categories = np.asarray([str(c) for c in column.cat.categories] + [MISSING_CATEGORY],
                                dtype=object)  # fmt: skip
        return categories[column.cat.codes.to_numpy()]  # code -1 (missing) picks the last
    return np.where(column.isna(), MISSING_CATEGORY, column.astype(str)).astype(object)


DATE_PARTS = ("year", "month", "day", "dayofweek", "dayofyear", "hour")


class DateFeatures(TransformerMixin, BaseEstimator):
    """Expands each date column into calendar parts plus elapsed days, which models can split on."""

    def fit(self, X, y=None):
        frame = as_frame(X)
        self.feature_names_in_ = np.asarray([str(c) for c in frame.columns], dtype=object)
        self.n_features_in_ = frame.shape[1]
        return self

    def transform(self, X):
        frame = as_frame(X)
        parts = []
        for column in frame.columns:
            dates = pd.to_datetime(frame[column], errors="coerce", format="ISO8601", utc=True)
            for part in DATE_PARTS:
                parts.append(getattr(dates.dt, part).astype("float64").to_numpy())
            epoch_days = (dates - pd.Timestamp("1970-01-01", tz="UTC")).dt.total_seconds() / 86400
            parts.append(epoch_days.astype("float64").to_numpy())
        return np.column_stack(parts) if parts else np.empty((len(frame), 0))

    def get_feature_names_out(self, input_features=None):
        names = input_features if input_features is not None else self.feature_names_in_
        return np.asarray(
            [f"{c}_{p}" for c in names for p in (*DATE_PARTS, "epoch_days")], dtype=object
        )

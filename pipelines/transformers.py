"""Small transformers that make raw pandas columns safe for scikit-learn encoders.

They live in the pipeline (not in a pre-processing script) so the exact same cleaning runs
inside every cross-validation fold and again at prediction time.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

MISSING_CATEGORY = "__missing__"


def _as_frame(X) -> pd.DataFrame:
    return X if isinstance(X, pd.DataFrame) else pd.DataFrame(X)


class NumericCaster(TransformerMixin, BaseEstimator):
    """Turns booleans, nullable integers and numeric text into float64 with NaN for missing."""

    def fit(self, X, y=None):
        self.n_features_in_ = _as_frame(X).shape[1]
        return self

    def transform(self, X):
        frame = _as_frame(X)
        if not frame.shape[1]:
            return np.empty((len(frame), 0))
        if all(isinstance(dtype, np.dtype) and dtype.kind in "biuf" for dtype in frame.dtypes):
            # Plain numpy numbers and booleans: one conversion of the whole block. Per column,
            # pandas' overhead made a 5,000-column table cost seconds per transform.
            return frame.to_numpy(dtype="float64")
        return np.column_stack(
            [pd.to_numeric(frame[c], errors="coerce").astype("float64") for c in frame.columns]
        )

    def get_feature_names_out(self, input_features=None):
        return np.asarray(input_features, dtype=object)


class CategoryCleaner(TransformerMixin, BaseEstimator):
    """Casts categories to plain strings and names missing values, so encoders see one type."""

    def fit(self, X, y=None):
        self.n_features_in_ = _as_frame(X).shape[1]
        return self

    def transform(self, X):
        frame = _as_frame(X)
        cleaned = {
            c: np.where(frame[c].isna(), MISSING_CATEGORY, frame[c].astype(str)).astype(object)
            for c in frame.columns
        }
        return pd.DataFrame(cleaned, index=frame.index)

    def get_feature_names_out(self, input_features=None):
        return np.asarray(input_features, dtype=object)


DATE_PARTS = ("year", "month", "day", "dayofweek", "dayofyear", "hour")


class DateFeatures(TransformerMixin, BaseEstimator):
    """Expands each date column into calendar parts plus elapsed days, which models can split on."""

    def fit(self, X, y=None):
        frame = _as_frame(X)
        self.feature_names_in_ = np.asarray([str(c) for c in frame.columns], dtype=object)
        self.n_features_in_ = frame.shape[1]
        return self

    def transform(self, X):
        frame = _as_frame(X)
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

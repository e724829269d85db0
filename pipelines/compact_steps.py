"""The steps a compact table's pipeline uses where the usual ones copy too much.

Why: on a million-row table (:mod:`tunelab.compact`) each trial preprocesses over half a
million rows, and the preprocessing, not the booster, set the run's peak memory. Measured on
576,000 x 20 compact rows (traced): ``NumericCaster`` then ``SimpleImputer`` with its
missing-value indicator held three copies of the numbers (79 MiB for a 35 MiB output), and a
``TargetEncoder`` fed text built Python lists of every row (127 MiB for 6 MiB of output).
These steps give the same numbers from one output array and from integer codes. Smaller
tables keep the usual steps.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from tunelab.pipelines.transformers import MISSING_CATEGORY, as_frame, column_as_numbers


class MedianImputer(TransformerMixin, BaseEstimator):
    """Numbers as ``dtype``, missing values replaced by their column's median, then one "was
    missing" column for each column that had missing values when fitted.

    The same output as ``NumericCaster`` followed by ``SimpleImputer(strategy="median",
    add_indicator=True, keep_empty_features=True)`` (an empty column imputes 0), written
    column by column into one array instead of three copies of the whole block.
    """

    def __init__(self, dtype: str = "float32"):
        self.dtype = dtype

    def fit(self, X, y=None):
        frame = as_frame(X)
        medians, missing = [], []
        for index, name in enumerate(frame.columns):
            values = column_as_numbers(frame[name], self.dtype)
            present = values[~np.isnan(values)]
            medians.append(float(np.median(present)) if len(present) else 0.0)
            if len(present) < len(values):
                missing.append(index)
        self.statistics_ = np.asarray(medians)
        self.indicator_features_ = np.asarray(missing, dtype=np.intp)
        self.feature_names_in_ = np.asarray([str(c) for c in frame.columns], dtype=object)
        self.n_features_in_ = frame.shape[1]
        return self

    def transform(self, X):
        frame = as_frame(X)
        width, flagged = frame.shape[1], set(self.indicator_features_.tolist())
        out = np.empty((len(frame), width + len(flagged)), dtype=self.dtype, order="F")
        flag_column = width
        for index, name in enumerate(frame.columns):
            out[:, index] = column_as_numbers(frame[name], self.dtype)
            gaps = np.isnan(out[:, index])
            out[gaps, index] = self.statistics_[index]
            if index in flagged:
                out[:, flag_column] = gaps
                flag_column += 1
        return out

    def get_feature_names_out(self, input_features=None):
        names = list(input_features if input_features is not None else self.feature_names_in_)
        flags = [f"missingindicator_{names[i]}" for i in self.indicator_features_]
        return np.asarray(names + flags, dtype=object)


class CategoryCodes(TransformerMixin, BaseEstimator):
    """Text or ``category`` columns as integer codes of the categories seen when fitted.

    The code of a category is its position in the sorted categories; a missing value is one
    more category (``__missing__``, as :class:`CategoryCleaner` names it) and a category not
    seen when fitted is -1, which an encoder fitted on these codes has never seen either. So a
    ``TargetEncoder`` after it encodes exactly as after ``CategoryCleaner``, from numbers.
    """

    def fit(self, X, y=None):
        frame = as_frame(X)
        self.categories_ = [self._seen(frame[name]) for name in frame.columns]
        self.n_features_in_ = frame.shape[1]
        return self

    @staticmethod
    def _seen(column: pd.Series) -> np.ndarray:
        if isinstance(column.dtype, pd.CategoricalDtype):
            used = column.cat.remove_unused_categories().cat.categories
            values = {str(c) for c in used}
        else:
            values = set(column.dropna().astype(str).unique())
        values.discard(MISSING_CATEGORY)
        return np.asarray(sorted(values), dtype=object)

    def transform(self, X):
        frame = as_frame(X)
        codes = np.empty(frame.shape, dtype=np.int32)
        for index, name in enumerate(frame.columns):
            codes[:, index] = self._codes(frame[name], self.categories_[index])
        return codes

    @staticmethod
    def _codes(column: pd.Series, categories: np.ndarray) -> np.ndarray:
        known, missing = pd.Index(categories), len(categories)
        if isinstance(column.dtype, pd.CategoricalDtype):
            # Each of the column's categories is looked up once; rows follow through codes.
            names = [str(c) for c in column.cat.categories]
            own = np.where(np.asarray(names, dtype=object) == MISSING_CATEGORY, missing,
                           known.get_indexer(names))  # fmt: skip
            lookup = np.append(own, missing).astype(np.int32)  # a row's code -1 is missing
            return lookup[column.cat.codes.to_numpy()]
        text = column.astype(str)
        codes = known.get_indexer(text).astype(np.int32)
        codes[column.isna().to_numpy() | (text == MISSING_CATEGORY).to_numpy()] = missing
        return codes

    def get_feature_names_out(self, input_features=None):
        return np.asarray(input_features, dtype=object)

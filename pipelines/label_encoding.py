"""Classification wrapper that lets every family see labels 0..K-1.

XGBoost insists on integer labels starting at zero; wrapping the whole pipeline once means
users get their original labels back from ``predict`` and ``classes_`` for every family.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.preprocessing import LabelEncoder


class LabelEncodedClassifier(ClassifierMixin, BaseEstimator):
    def __init__(self, estimator: BaseEstimator):
        self.estimator = estimator

    def fit(self, X, y, sample_weight=None):
        """``sample_weight`` goes to the pipeline's model step (how a soft-voting blend and
        a weighted run pass row weights)."""
        self.label_encoder_ = LabelEncoder().fit(y)
        self.classes_ = self.label_encoder_.classes_
        weights = {} if sample_weight is None else {"model__sample_weight": sample_weight}
        encoded = self.label_encoder_.transform(y)
        self.estimator_ = clone(self.estimator).fit(X, encoded, **weights)
        return self

    def predict(self, X):
        encoded = np.asarray(self.estimator_.predict(X)).astype(int).ravel()
        return self.label_encoder_.inverse_transform(encoded)

    def predict_proba(self, X):
        return self.estimator_.predict_proba(X)

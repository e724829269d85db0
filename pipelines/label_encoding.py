"""Classification wrapper that lets every family see labels 0..K-1.

XGBoost insists on integer labels starting at zero; wrapping the whole pipeline once means
users get their original labels back from ``predict`` and ``classes_`` for every family.
Every classifier tunelab fits, scores, blends and ships passes through here, so this is also
where probabilities get their floor (:mod:`tunelab.pipelines.probabilities`): trials, ensembles, the
shipped model and its scores all see the same probabilities.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.preprocessing import LabelEncoder

from tunelab.pipelines.probabilities import PROBABILITY_FLOOR, floor_probabilities


class LabelEncodedClassifier(ClassifierMixin, BaseEstimator):
    #: Models registered before the floor existed load without the attribute and predict
    #: exactly as they did when they were scored.
    probability_floor = 0.0

    def __init__(self, estimator: BaseEstimator, probability_floor: float = PROBABILITY_FLOOR):
        self.estimator = estimator
        self.probability_floor = probability_floor

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
        return floor_probabilities(self.estimator_.predict_proba(X), self.probability_floor)

"""Feature selection as a searchable step: TPE decides whether and how to select."""

from __future__ import annotations

from typing import Any

from sklearn.ensemble import ExtraTreesClassifier, ExtraTreesRegressor
from sklearn.feature_selection import (
    SelectFromModel,
    SelectPercentile,
    VarianceThreshold,
    f_classif,
    f_regression,
)

from models.distributions import Choice, Distribution, Uniform

#: Each method's own hyperparameters; "none" keeps every feature.
SELECTION_METHODS: dict[str, dict[str, Distribution]] = {
    "none": {},
    "variance": {"threshold": Uniform(0.0, 0.05)},
    "percentile": {"percentile": Uniform(25, 100, integer=True)},
    "model": {"threshold": Choice(("mean", "median", "0.5*mean"))},
}


def make_selector(config: dict[str, Any], task: str, seed: int) -> Any:
    method = config["method"]
    if method == "none":
        return "passthrough"
    if method == "variance":
        return VarianceThreshold(threshold=config["threshold"])
    if method == "percentile":
        score_func = f_regression if task == "regression" else f_classif
        return SelectPercentile(score_func, percentile=config["percentile"])
    if method == "model":
        forest_cls = ExtraTreesRegressor if task == "regression" else ExtraTreesClassifier
        forest = forest_cls(n_estimators=50, random_state=seed, n_jobs=1)
        return SelectFromModel(forest, threshold=config["threshold"])
    raise ValueError(f"Unknown feature selection method {method!r}")

"""Bagged tree ensembles (random forest and extra trees), which share one space."""

from __future__ import annotations

import math
from typing import Any

from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)

from tunelab.models.base import ModelFamily, TaskKind, is_classification
from tunelab.models.distributions import Choice, Distribution, Uniform

#: The most features one split of a forest's tree examines. ``max_features`` is searched as a
#: share of the columns (0.1-1.0), which on a 5,000-column table means 500-5,000 per split:
#: a 300-tree forest then took 20-40 s a trial on 100 rows (measured: 50 trees at 0.6 took
#: 2.6 s), where scikit-learn's own default examines sqrt(5,000) = 71. Tables up to this many
#: columns (every table in ``../shared/datasets``) are unaffected.
MAX_SPLIT_FEATURES = 256


def _for_width(params: dict[str, Any], width: int) -> dict[str, Any]:
    """The share of columns a split examines, capped at :data:`MAX_SPLIT_FEATURES` columns
    (or the square root of the width, if more). Kept a share, not a count: the feature
    selection step before the model may leave fewer columns than the cap."""
    share = params.get("max_features")
    cap = max(MAX_SPLIT_FEATURES, math.isqrt(max(1, width)))
    if not isinstance(share, float) or share * width <= cap:
        return params
    return {**params, "max_features": cap / width}


def _params(task: TaskKind) -> dict[str, Distribution]:
    params: dict[str, Distribution] = {
        "n_estimators": Uniform(50, 300, integer=True),
        "max_depth": Choice((None, 4, 8, 16)),
        "min_samples_leaf": Uniform(1, 20, log=True, integer=True),
        "max_features": Uniform(0.1, 1.0),
    }
    if is_classification(task):
        params["class_weight"] = Choice((None, "balanced", "balanced_subsample"))
    return params


def _factory(classifier: type, regressor: type):
    def build(params: dict[str, Any], task: TaskKind, seed: int, n_jobs: int):
        cls = classifier if is_classification(task) else regressor
        return cls(**params, random_state=seed, n_jobs=n_jobs)

    return build


def _portfolio(task: TaskKind) -> list[dict[str, Any]]:
    """Close to scikit-learn's defaults (all features for regression, a third otherwise)."""
    classification = is_classification(task)
    config: dict[str, Any] = {
        "n_estimators": 100,
        "max_depth": None,
        "min_samples_leaf": 1,
        "max_features": 0.35 if classification else 1.0,
    }
    return [{**config, "class_weight": None} if classification else config]


RANDOM_FOREST = ModelFamily(
    name="random_forest",
    params=_params,
    build=_factory(RandomForestClassifier, RandomForestRegressor),
    portfolio=_portfolio,
    for_width=_for_width,
)
EXTRA_TREES = ModelFamily(
    name="extra_trees",
    params=_params,
    build=_factory(ExtraTreesClassifier, ExtraTreesRegressor),
    portfolio=_portfolio,
    for_width=_for_width,
)

"""k-nearest neighbours: a non-parametric family that wins on small, low-dimensional data."""

from __future__ import annotations

from typing import Any

from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

from tunelab.models.base import ModelFamily, TaskKind, is_classification
from tunelab.models.distributions import Choice, Distribution, Uniform


def _params(task: TaskKind) -> dict[str, Distribution]:
    return {
        "n_neighbors": Uniform(1, 30, integer=True),
        "weights": Choice(("uniform", "distance")),
        "p": Choice((1, 2)),
    }


def _build(params: dict[str, Any], task: TaskKind, seed: int, n_jobs: int):
    cls = KNeighborsClassifier if is_classification(task) else KNeighborsRegressor
    return cls(**params, n_jobs=n_jobs)


def _portfolio(task: TaskKind) -> list[dict[str, Any]]:
    return [
        {"n_neighbors": 5, "weights": "uniform", "p": 2},
        {"n_neighbors": 15, "weights": "distance", "p": 2},
    ]


KNN = ModelFamily(
    name="knn", params=_params, build=_build, needs_scaling=True, portfolio=_portfolio
)

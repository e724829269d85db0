"""Regularised linear models: the fast, well-calibrated baseline every search should include."""

from __future__ import annotations

from typing import Any

from sklearn.linear_model import LogisticRegression, Ridge

from tunelab.models.base import ModelFamily, TaskKind, is_classification
from tunelab.models.distributions import CLASS_WEIGHTS, Distribution, Uniform


def _params(task: TaskKind) -> dict[str, Distribution]:
    if is_classification(task):
        return {"C": Uniform(1e-3, 1e2, log=True), "class_weight": CLASS_WEIGHTS}
    return {"alpha": Uniform(1e-3, 1e3, log=True)}


def _build(params: dict[str, Any], task: TaskKind, seed: int, n_jobs: int):
    if is_classification(task):
        return LogisticRegression(
            C=params["C"],
            class_weight=params.get("class_weight"),
            max_iter=2000,
            random_state=seed,
        )
    return Ridge(alpha=params["alpha"], random_state=seed)


def _portfolio(task: TaskKind) -> list[dict[str, Any]]:
    """scikit-learn's default strength first, then a more strongly regularised one."""
    if is_classification(task):
        return [{"C": 1.0, "class_weight": None}, {"C": 0.1, "class_weight": None}]
    return [{"alpha": 1.0}, {"alpha": 10.0}]


LINEAR = ModelFamily(
    name="linear", params=_params, build=_build, needs_scaling=True, portfolio=_portfolio
)

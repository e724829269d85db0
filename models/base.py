"""The contract every model family fulfils."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sklearn.base import BaseEstimator

from tunelab.models.distributions import Distribution
from tunelab.models.kinds import TaskKind, is_classification

EstimatorFactory = Callable[[dict[str, Any], TaskKind, int, int], BaseEstimator]


def no_portfolio(task: TaskKind) -> list[dict[str, Any]]:
    return []


def same_for_any_width(params: dict[str, Any], width: int) -> dict[str, Any]:
    return params


@dataclass(frozen=True)
class ModelFamily:
    """A model family: its hyperparameter space and how to build an estimator from a sample.

    ``needs_scaling`` lets the pipeline builder scale numeric inputs only for the families
    that are sensitive to feature scale (linear models, k-NN), keeping tree pipelines cheap.
    """

    name: str
    params: Callable[[TaskKind], dict[str, Distribution]]
    build: EstimatorFactory
    needs_scaling: bool = False
    tasks: frozenset[str] = frozenset({"binary", "multiclass", "regression"})
    #: Configurations every search evaluates before TPE takes over, library defaults first:
    #: even a tiny budget then ships at least an untuned-library-quality model.
    portfolio: Callable[[TaskKind], list[dict[str, Any]]] = no_portfolio
    #: The sampled parameters adapted to a table of ``width`` feature columns, where a value
    #: that is cheap on ten columns would be ruinous on thousands (see forests).
    for_width: Callable[[dict[str, Any], int], dict[str, Any]] = same_for_any_width

    def supports(self, task: TaskKind) -> bool:
        return task in self.tasks


__all__ = ["EstimatorFactory", "ModelFamily", "TaskKind", "is_classification"]

"""The contract every model family fulfils."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from sklearn.base import BaseEstimator

from models.distributions import Distribution

TaskKind = Literal["binary", "multiclass", "regression"]
EstimatorFactory = Callable[[dict[str, Any], TaskKind, int, int], BaseEstimator]


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

    def supports(self, task: TaskKind) -> bool:
        return task in self.tasks


def is_classification(task: TaskKind) -> bool:
    return task != "regression"

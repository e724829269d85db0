"""Model families and their hyperparameter search spaces."""

from __future__ import annotations

from models.base import ModelFamily, TaskKind, is_classification
from models.boosting import LIGHTGBM, XGBOOST
from models.forests import EXTRA_TREES, RANDOM_FOREST
from models.knn import KNN
from models.linear import LINEAR

FAMILIES: dict[str, ModelFamily] = {
    family.name: family for family in (LINEAR, RANDOM_FOREST, EXTRA_TREES, KNN, XGBOOST, LIGHTGBM)
}


def get_family(name: str) -> ModelFamily:
    try:
        return FAMILIES[name]
    except KeyError:
        known = ", ".join(FAMILIES)
        raise ValueError(f"Unknown model family {name!r}; known families: {known}") from None


__all__ = ["FAMILIES", "ModelFamily", "TaskKind", "get_family", "is_classification"]

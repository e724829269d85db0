"""Gradient-boosted trees from XGBoost and LightGBM, usually the strongest tabular families."""

from __future__ import annotations

from typing import Any

from lightgbm import LGBMClassifier, LGBMRegressor
from xgboost import XGBClassifier, XGBRegressor

from models.base import ModelFamily, TaskKind, is_classification
from models.distributions import Distribution, Uniform


def _shared_params() -> dict[str, Distribution]:
    return {
        "n_estimators": Uniform(50, 400, integer=True),
        "learning_rate": Uniform(0.01, 0.3, log=True),
        "subsample": Uniform(0.5, 1.0),
        "colsample_bytree": Uniform(0.5, 1.0),
        "reg_lambda": Uniform(1e-3, 10.0, log=True),
    }


def _xgboost_params(task: TaskKind) -> dict[str, Distribution]:
    return {
        **_shared_params(),
        "max_depth": Uniform(2, 10, integer=True),
        "min_child_weight": Uniform(1.0, 20.0, log=True),
    }


def _lightgbm_params(task: TaskKind) -> dict[str, Distribution]:
    return {
        **_shared_params(),
        "num_leaves": Uniform(8, 128, log=True, integer=True),
        "min_child_samples": Uniform(5, 50, integer=True),
    }


def _build_xgboost(params: dict[str, Any], task: TaskKind, seed: int, n_jobs: int):
    cls = XGBClassifier if is_classification(task) else XGBRegressor
    return cls(**params, tree_method="hist", random_state=seed, n_jobs=n_jobs, verbosity=0)


def _build_lightgbm(params: dict[str, Any], task: TaskKind, seed: int, n_jobs: int):
    cls = LGBMClassifier if is_classification(task) else LGBMRegressor
    # subsample only takes effect with a bagging frequency; deterministic keeps seeds honest.
    return cls(
        **params,
        subsample_freq=1,
        random_state=seed,
        n_jobs=n_jobs,
        deterministic=True,
        force_col_wise=True,
        verbose=-1,
    )


def _xgboost_portfolio(task: TaskKind) -> list[dict[str, Any]]:
    """XGBoost's own defaults, then a slower-learning, subsampled configuration."""
    return [
        {
            "n_estimators": 100,
            "learning_rate": 0.3,
            "max_depth": 6,
            "min_child_weight": 1.0,
            "subsample": 1.0,
            "colsample_bytree": 1.0,
            "reg_lambda": 1.0,
        },
        {
            "n_estimators": 300,
            "learning_rate": 0.05,
            "max_depth": 4,
            "min_child_weight": 2.0,
            "subsample": 0.8,
            "colsample_bytree": 0.8,
            "reg_lambda": 1.0,
        },
    ]


def _lightgbm_portfolio(task: TaskKind) -> list[dict[str, Any]]:
    """LightGBM's own defaults (what an untuned user fits), then a small-data configuration."""
    return [
        {
            "n_estimators": 100,
            "learning_rate": 0.1,
            "num_leaves": 31,
            "min_child_samples": 20,
            "subsample": 1.0,
            "colsample_bytree": 1.0,
            "reg_lambda": 0.001,
        },
        {
            "n_estimators": 300,
            "learning_rate": 0.03,
            "num_leaves": 15,
            "min_child_samples": 10,
            "subsample": 0.8,
            "colsample_bytree": 0.8,
            "reg_lambda": 1.0,
        },
    ]


XGBOOST = ModelFamily(
    name="xgboost", params=_xgboost_params, build=_build_xgboost, portfolio=_xgboost_portfolio
)
LIGHTGBM = ModelFamily(
    name="lightgbm", params=_lightgbm_params, build=_build_lightgbm, portfolio=_lightgbm_portfolio
)

"""The family list: names and where each family lives, cheapest to fit first.

Adding a family means writing its module and adding one line here. The names are known
without importing any model library, so the CLI and the run configuration stay fast; the
order is the order in which each search tries the families' starting points.
"""

from __future__ import annotations

FAMILY_MODULES: dict[str, str] = {
    "linear": "models.linear:LINEAR",
    "knn": "models.knn:KNN",
    "lightgbm": "models.boosting:LIGHTGBM",
    "xgboost": "models.boosting:XGBOOST",
    "extra_trees": "models.forests:EXTRA_TREES",
    "random_forest": "models.forests:RANDOM_FOREST",
}

FAMILY_NAMES: tuple[str, ...] = tuple(FAMILY_MODULES)

#: Types a fitted model of the family holds that skops does not trust by default, beyond
#: scikit-learn's (see ``tunelab/model_types.py``). Loading a registered model refuses any
#: type not listed, so a family from a new library lists its estimator and booster here.
#: The boosters' plain library classes stay listed so models registered before early stopping
#: (which hold them) still load.
FAMILY_TRUSTED_TYPES: dict[str, frozenset[str]] = {
    "lightgbm": frozenset(
        {
            "lightgbm.basic.Booster",
            "lightgbm.sklearn.LGBMClassifier",
            "lightgbm.sklearn.LGBMRegressor",
            "models.boosting.EarlyStoppingLGBMClassifier",
            "models.boosting.EarlyStoppingLGBMRegressor",
        }
    ),
    "xgboost": frozenset(
        {
            "xgboost.core.Booster",
            "xgboost.sklearn.XGBClassifier",
            "xgboost.sklearn.XGBRegressor",
            "models.boosting.EarlyStoppingXGBClassifier",
            "models.boosting.EarlyStoppingXGBRegressor",
        }
    ),
}

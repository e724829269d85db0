"""The family list: names and where each family lives, cheapest to fit first.

Adding a family means writing its module and adding one line here. The names are known
without importing any model library, so the CLI and the run configuration stay fast; the
order is the order in which each search tries the families' starting points.
"""

from __future__ import annotations

FAMILY_MODULES: dict[str, str] = {
    "linear": "tunelab.models.linear:LINEAR",
    "knn": "tunelab.models.knn:KNN",
    "lightgbm": "tunelab.models.boosting:LIGHTGBM",
    "xgboost": "tunelab.models.boosting:XGBOOST",
    "extra_trees": "tunelab.models.forests:EXTRA_TREES",
    "random_forest": "tunelab.models.forests:RANDOM_FOREST",
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
            "tunelab.models.boosting.EarlyStoppingLGBMClassifier",
            "tunelab.models.boosting.EarlyStoppingLGBMRegressor",
        }
    ),
    "xgboost": frozenset(
        {
            "xgboost.core.Booster",
            "xgboost.sklearn.XGBClassifier",
            "xgboost.sklearn.XGBRegressor",
            "tunelab.models.boosting.EarlyStoppingXGBClassifier",
            "tunelab.models.boosting.EarlyStoppingXGBRegressor",
        }
    ),
}

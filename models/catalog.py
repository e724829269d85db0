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

"""Cheaper evaluations where a table is large enough that they cost nothing in ranking.

On a million rows one LightGBM fit on an inner fold takes tens of seconds, so inner CV with
3 folds leaves a 10-minute budget a handful of trials. Above :data:`LARGE_ROWS` rows (FLAML
switches from CV to a holdout at the same size) a trial is scored on one holdout instead:
with tens of thousands of validation rows its score is already precise, and each trial
costs one fit instead of three. The families whose single fit does not scale (k-NN predicts
in rows x rows; a forest of full-depth trees) are left out there unless asked for, and the
library-default LightGBM goes first, so even one trial ships untuned-LightGBM quality.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from tunelab.models.kinds import is_classification

#: Rows above which a search scores each trial on one holdout instead of inner CV.
LARGE_ROWS = 100_000
#: The share of a large search's rows its holdout validates on.
HOLDOUT_SHARE = 0.1
#: Families left out of large tables unless the user names them.
SLOW_AT_SCALE = ("knn", "random_forest", "extra_trees")
#: Tried first on large tables, in this order.
FIRST_AT_SCALE = ("lightgbm", "xgboost")


def is_large(rows: int) -> bool:
    return rows > LARGE_ROWS


def holdout_split(
    task: str, rows: int, y: pd.Series, seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """One seeded (stratified, for classification) split as index arrays, not copies."""
    stratify = np.asarray(y) if is_classification(task) else None
    train, validation = train_test_split(
        np.arange(rows), test_size=HOLDOUT_SHARE, random_state=seed, stratify=stratify
    )
    return [(np.sort(train), np.sort(validation))]


def families_for_size(families: list[str], rows: int, requested: bool) -> list[str]:
    """The families a search of ``rows`` rows tries (all of them unless it is large)."""
    if requested or not is_large(rows):
        return families
    kept = [f for f in families if f not in SLOW_AT_SCALE]
    return kept or families


def order_for_size(configs: Sequence[dict[str, Any]], rows: int) -> list[dict[str, Any]]:
    """Starting points, boosters' first on large tables (stable otherwise)."""
    if not is_large(rows):
        return list(configs)

    def rank(config: dict[str, Any]) -> int:
        family = config["model"]["family"]
        return FIRST_AT_SCALE.index(family) if family in FIRST_AT_SCALE else len(FIRST_AT_SCALE)

    return sorted(configs, key=rank)

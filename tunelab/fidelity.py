"""Cheaper evaluations where a table is large for its budget, so that they cost nothing in ranking.

On a million rows one LightGBM fit on an inner fold takes tens of seconds, so inner CV with
3 folds leaves a 10-minute budget a handful of trials; on 36,000 rows a 30 s budget left one
linear trial per outer fold and no final search. So a trial is scored on one holdout instead
of inner CV above :data:`LARGE_ROWS` rows, or when the table has more cells than inner CV
can afford in the run's budget (:func:`scores_on_one_holdout`: FLAML's rule for choosing
between CV and a holdout, with its constants). Each trial then costs one fit instead of
three, on at most :data:`TRIAL_ROWS` of its rows (a seeded subset, as FLAML samples rows for
its early trials; the winner's refit sees them all). The families whose single fit does not
scale (k-NN predicts in rows x rows; a forest of full-depth trees) are left out there unless
asked for. On every table the library-default LightGBM goes first, so even one trial ships
untuned-LightGBM quality.
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
#: Cells (rows x columns) inner CV can afford per hour of budget (FLAML's SMALL_LARGE_THRES).
CV_CELLS_PER_HOUR = 10_000_000
#: The share of a large search's rows its holdout validates on.
HOLDOUT_SHARE = 0.1
#: Rows a trial scored on one holdout trains on at most: a seeded random subset above it
#: (the holdout it is scored on keeps its size), so a search on a million rows runs about
#: twice as many trials (31 outer and 46 final against 19 and 19, 600 s), and its largest
#: fits hold a third of the memory. The winner is refitted on every training row.
TRIAL_ROWS = 200_000
#: Classes with fewer rows than this keep every row in a trial's subset.
RARE_CLASS_ROWS = 1_000
#: Families left out of large tables unless the user names them.
SLOW_AT_SCALE = ("knn", "random_forest", "extra_trees")
#: Tried first on every table, in this order: the best first trials per second measured.
FIRST_FAMILIES = ("lightgbm", "xgboost")


def is_large(rows: int) -> bool:
    return rows > LARGE_ROWS


def scores_on_one_holdout(rows: int, columns: int, budget_seconds: float | None) -> bool:
    """Whether a run's searches score each trial on one holdout instead of inner CV.

    FLAML's ``_decide_eval_method``: CV only while ``rows x columns / 0.9`` stays below
    10 million cells per hour of budget (83,000 cells at 30 s, 333,000 at 120 s) and the
    table below :data:`LARGE_ROWS` rows; without a budget, CV up to that size.
    """
    if is_large(rows):
        return True
    if budget_seconds is None:
        return False
    return rows * columns / 0.9 >= CV_CELLS_PER_HOUR * budget_seconds / 3600


def holdout_split(
    task: str, rows: int, y: pd.Series, seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """One seeded (stratified, for classification) split as index arrays, not copies; the
    training part capped at :data:`TRIAL_ROWS` rows (:func:`trial_rows_of`)."""
    labels = np.asarray(y) if is_classification(task) else None
    train, validation = train_test_split(
        np.arange(rows), test_size=HOLDOUT_SHARE, random_state=seed, stratify=labels
    )
    return [(np.sort(trial_rows_of(train, labels, seed)), np.sort(validation))]


def trial_rows_of(
    train: np.ndarray, labels: np.ndarray | None, seed: int, cap: int = TRIAL_ROWS
) -> np.ndarray:
    """At most ``cap`` of the ``train`` rows: a seeded random subset, stratified when
    ``labels`` (every row's class) are given, keeping every row of a class with fewer than
    :data:`RARE_CLASS_ROWS` rows, so no trial loses a class."""
    if len(train) <= cap:
        return train
    if labels is None:
        return np.random.default_rng(seed).choice(train, cap, replace=False)
    codes, _ = pd.factorize(labels[train])
    rare = np.bincount(codes)[codes] < RARE_CLASS_ROWS
    wanted = cap - int(rare.sum())
    if wanted <= 0:
        return train
    common = train[~rare]
    sampled, _ = train_test_split(
        common, train_size=wanted, random_state=seed, stratify=codes[~rare]
    )
    return np.concatenate([train[rare], sampled])


def families_for_size(families: list[str], holdout: bool, requested: bool) -> list[str]:
    """The families a run tries: all of them unless its trials are scored on one holdout."""
    if requested or not holdout:
        return families
    kept = [f for f in families if f not in SLOW_AT_SCALE]
    return kept or families


def boosters_first(configs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Starting points with each booster's first choice (its library defaults) first.

    The cheapest-first order (linear, k-NN, ...) spent a short budget before reaching them:
    on bank_marketing (36,169 training rows, 30 s) each outer fold ran one 8 s linear trial
    and the run shipped ROC AUC 0.904 against 0.938 for an untuned LightGBM.
    """
    leading: list[dict[str, Any]] = []
    for family in FIRST_FAMILIES:
        first = next((c for c in configs if c["model"]["family"] == family), None)
        if first is not None:
            leading.append(first)
    return leading + [c for c in configs if all(c is not first for first in leading)]

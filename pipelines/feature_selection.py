"""Feature selection as a searchable step: TPE decides whether and how to select."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.ensemble import ExtraTreesClassifier, ExtraTreesRegressor
from sklearn.feature_selection import (
    SelectFromModel,
    SelectorMixin,
    SelectPercentile,
    f_classif,
    f_regression,
)
from sklearn.utils.validation import check_is_fitted, validate_data

from tunelab.models.distributions import Choice, Distribution, Uniform
from tunelab.models.kinds import is_classification

#: Each method's own hyperparameters; "none" keeps every feature.
SELECTION_METHODS: dict[str, dict[str, Distribution]] = {
    "none": {},
    # Share of rows that must differ from a column's most common value for it to be kept.
    "near_constant": {"threshold": Uniform(0.0, 0.05)},
    "percentile": {"percentile": Uniform(25, 100, integer=True)},
    "model": {"threshold": Choice(("mean", "median", "0.5*mean"))},
}

#: Bounds on the importance forest of the ``model`` selector: it only ranks features, so
#: shallow trees suffice, and unbounded ones cost more than the model they select for.
IMPORTANCE_FOREST = {"n_estimators": 50, "max_depth": 8, "max_samples": 0.3, "bootstrap": True}


class NearConstantFilter(SelectorMixin, BaseEstimator):
    """Drops columns where (nearly) every row holds the same value.

    Why not ``VarianceThreshold``: an absolute variance threshold depends on each column's
    unit (tree families see unscaled features), so the same threshold keeps a noisy column of
    large scale and drops every column of data measured in small units, until nothing is
    left and the trial fails. The share of rows that differ from the column's most common value
    does not depend on scale. The most varied column is always kept, so the step never empties.
    """

    def __init__(self, threshold: float = 0.0):
        self.threshold = threshold

    def fit(self, X: Any, y: Any = None) -> NearConstantFilter:
        # float32 stays float32: a float64 copy of a compact table's 576,000 x 22 matrix was
        # 97 MiB per trial (the shares are the same: equal values stay equal either way).
        X = validate_data(self, X, dtype=(np.float64, np.float32), ensure_all_finite="allow-nan")
        self.minority_share_ = minority_shares(X)
        keep = self.minority_share_ > self.threshold
        if not keep.any():
            keep[int(np.argmax(self.minority_share_))] = True
        self.support_ = keep
        return self

    def _get_support_mask(self) -> np.ndarray:
        check_is_fitted(self)
        return self.support_


#: Cells :func:`minority_shares` works on at once: its run positions take 8 bytes a cell, and
#: all 576,000 x 22 cells at once peaked 450 MiB in a million-row run's trial.
SHARES_CELLS_AT_ONCE = 1 << 20


def minority_shares(X: np.ndarray) -> np.ndarray:
    """Each column's share of rows whose value is not its most common one (NaN counts as a
    value), for many columns at once: one ``np.unique`` per column cost 0.7 ms, 3.6 s a trial
    on 5,000 columns. Columns go in blocks of about :data:`SHARES_CELLS_AT_ONCE` cells.
    """
    rows, columns = X.shape
    width = max(1, SHARES_CELLS_AT_ONCE // max(1, rows))
    if columns <= width:
        return _block_minority_shares(X)
    return np.concatenate(
        [_block_minority_shares(X[:, i : i + width]) for i in range(0, columns, width)]
    )


def _block_minority_shares(X: np.ndarray) -> np.ndarray:
    """Each sorted column's longest run of equal values is its most common value's count."""
    rows, columns = X.shape
    if rows == 0:
        return np.zeros(columns)
    ordered = np.sort(X, axis=0)  # NaN sorts last, so missing values form one run
    same = (ordered[1:] == ordered[:-1]) | (np.isnan(ordered[1:]) & np.isnan(ordered[:-1]))
    run_starts = np.vstack([np.ones((1, columns), dtype=bool), ~same]).T.ravel()
    starts = np.flatnonzero(run_starts)
    lengths = np.diff(np.append(starts, rows * columns))
    first_run = np.searchsorted(starts, np.arange(columns) * rows)
    return 1.0 - np.maximum.reduceat(lengths, first_run) / rows


def f_classif_by_columns(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``f_classif``, about :data:`SHARES_CELLS_AT_ONCE` cells at a time: the same statistics
    (each column's are its own; float32 sums may round in the seventh digit). Over the whole
    matrix it makes float64 copies of every class's rows, about 200 MiB on a million-row
    table's 576,000 x 22 float32 trial rows."""
    return _by_columns(f_classif, X, y)


def f_regression_by_columns(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``f_regression`` a block of columns at a time, as :func:`f_classif_by_columns` (on
    float64 the same statistics within 1e-13; one block, scikit-learn's own call, below
    about a million cells)."""
    return _by_columns(f_regression, X, y)


def _by_columns(score: Any, X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    rows, columns = X.shape
    width = max(1, SHARES_CELLS_AT_ONCE // max(1, rows))
    if columns <= width:
        return score(X, y)
    blocks = [score(X[:, i : i + width], y) for i in range(0, columns, width)]
    return np.concatenate([b[0] for b in blocks]), np.concatenate([b[1] for b in blocks])


def make_selector(config: dict[str, Any], task: str, seed: int, n_jobs: int = 1) -> Any:
    method = config["method"]
    if method == "none":
        return "passthrough"
    if method == "near_constant":
        return NearConstantFilter(threshold=config["threshold"])
    if method == "percentile":
        classification = is_classification(task)
        score_func = f_classif_by_columns if classification else f_regression_by_columns
        return SelectPercentile(score_func, percentile=config["percentile"])
    if method == "model":
        forest_cls = ExtraTreesRegressor if not is_classification(task) else ExtraTreesClassifier
        forest = forest_cls(**IMPORTANCE_FOREST, random_state=seed, n_jobs=n_jobs)
        return SelectFromModel(forest, threshold=config["threshold"])
    raise ValueError(f"Unknown feature selection method {method!r}")

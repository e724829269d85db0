"""Row weights (``weight_column``) in every fit and every score of a run.

Why here and not in each caller: scikit-learn passes weights differently to a pipeline
(``model__sample_weight``), to tunelab's classifier wrapper and to a soft-voting blend
(``sample_weight``), and not at all to k-NN. One function per operation keeps every fit and
every score of the run weighted the same way.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from joblib import Parallel, delayed, parallel_config
from sklearn.ensemble import VotingClassifier, VotingRegressor
from sklearn.pipeline import Pipeline
from sklearn.utils import Bunch

from tunelab.errors import DataValidationError, ParameterError

#: Families whose estimators take no ``sample_weight``; a weighted run does not search them.
UNWEIGHTED_FAMILIES = frozenset({"knn"})


def check_weights(values: pd.Series) -> None:
    """Weights must be finite numbers, none negative, not all zero."""
    name = values.name
    if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
        raise DataValidationError(f"Weight column {name!r} must hold numbers")
    numbers = values.to_numpy(dtype=float)
    if np.isnan(numbers).any():
        raise DataValidationError(
            f"Weight column {name!r} has {int(np.isnan(numbers).sum())} missing values; give "
            "every row a weight (0 to ignore it)"
        )
    if np.isinf(numbers).any():
        raise DataValidationError(f"Weight column {name!r} contains infinite values")
    if (numbers < 0).any():
        raise DataValidationError(
            f"Weight column {name!r} has negative weights (such as {numbers.min():g}); "
            "weights must be 0 or more"
        )
    if not (numbers > 0).any():
        raise DataValidationError(f"Weight column {name!r} is all zero; no row would count")


def row_weights(X: pd.DataFrame, column: str | None) -> np.ndarray | None:
    """The weights of ``X``'s rows, or ``None`` for an unweighted run."""
    return None if column is None else X[column].to_numpy(dtype=float)


def fit_weighted(estimator: Any, X: pd.DataFrame, y: pd.Series, weights: Any) -> Any:
    """``estimator.fit(X, y)`` with each row counted ``weights`` times (``None``: once).

    A blend fits its members (``n_jobs`` at once) on threads, not in joblib's default worker
    processes: the boosters and forests release the GIL while they fit, and threads share
    the table instead of copying it into each worker.
    """
    if isinstance(estimator, (VotingClassifier, VotingRegressor)):
        with parallel_config(backend="threading"):
            return _fit(estimator, X, y, weights)
    return _fit(estimator, X, y, weights)


def _fit(estimator: Any, X: pd.DataFrame, y: pd.Series, weights: Any) -> Any:
    if weights is None:
        return estimator.fit(X, y)
    if isinstance(estimator, Pipeline):  # a regression pipeline: the model step weighs
        return estimator.fit(X, y, model__sample_weight=weights)
    if isinstance(estimator, VotingRegressor):
        return _fit_regression_blend(estimator, X, y, weights)
    return estimator.fit(X, y, sample_weight=weights)


def _fit_regression_blend(blend: VotingRegressor, X: Any, y: Any, weights: Any) -> Any:
    """``VotingRegressor`` would hand ``sample_weight`` to each member pipeline, which takes
    it only as ``model__sample_weight``: the members are fitted here, ``n_jobs`` at once."""
    from sklearn.base import clone

    fitted = Parallel(n_jobs=blend.n_jobs)(
        delayed(fit_weighted)(clone(member), X, y, weights) for _, member in blend.estimators
    )
    blend.estimators_ = fitted
    blend.named_estimators_ = Bunch(
        **{name: model for (name, _), model in zip(blend.estimators, fitted, strict=True)}
    )
    if hasattr(fitted[0], "feature_names_in_"):
        blend.feature_names_in_ = fitted[0].feature_names_in_
    return blend


def weighted_score(scorer: Any, estimator: Any, X: pd.DataFrame, y: Any, weights: Any) -> float:
    """The scorer's value, weighted when ``weights`` is given."""
    if weights is None:
        return float(scorer(estimator, X, y))
    return float(scorer(estimator, X, y, sample_weight=weights))


def weighable_families(families: list[str], plan: Any, log: Any) -> list[str]:
    """The families a weighted run searches: those whose estimators take row weights."""
    if not plan.weight_column:
        return families
    kept = [f for f in families if f not in UNWEIGHTED_FAMILIES]
    if not kept:
        raise ParameterError(
            f"None of the families {families} takes row weights; with weight_column choose "
            "others (e.g. linear, lightgbm)"
        )
    if len(kept) < len(families):
        left_out = ", ".join(f for f in families if f not in kept)
        log.warning("Not searching %s: it takes no row weights (weight_column)", left_out)
    return kept


def run_scorer(metric: str, classes: Any = None) -> Any:
    """The run's scikit-learn scorer. Log loss is told every class of the run: a group or
    time fold can lack a rare class in its validation part (a season without snow), where
    ``neg_log_loss`` would otherwise refuse probabilities for classes it does not see."""
    from sklearn.metrics import get_scorer, log_loss, make_scorer

    if metric != "neg_log_loss" or classes is None:
        return get_scorer(metric)
    return make_scorer(
        log_loss,
        greater_is_better=False,
        response_method="predict_proba",
        labels=list(classes),
    )

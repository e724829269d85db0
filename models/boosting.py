"""Gradient-boosted trees from XGBoost and LightGBM, usually the strongest tabular families.

The number of trees is found, not searched: every booster here holds out a validation split
of the rows it is given and stops adding trees once the validation loss has not improved for
``early_stopping_rounds`` rounds. ``n_estimators`` is only the cap. TPE then spends its trials
on the parameters that shape the trees (learning rate, depth/leaves, sampling, regularisation)
instead of rediscovering, for each of them, how many trees that learning rate needs.
"""

from __future__ import annotations

import inspect
import math
from typing import Any

import lightgbm
import numpy as np
from lightgbm import LGBMClassifier, LGBMRegressor
from sklearn.model_selection import train_test_split
from sklearn.utils import _safe_indexing
from xgboost import XGBClassifier, XGBRegressor

from tunelab.models.base import ModelFamily, TaskKind, is_classification
from tunelab.models.distributions import CLASS_WEIGHTS, Distribution, Uniform

#: The cap on the number of boosting rounds. Early stopping ends nearly every fit well before
#: it: at the lowest searched learning rate (0.02) the tables in ``../shared/datasets`` stopped
#: after 81-587 rounds (bank_churn, seattle_weather, insurance, vehicle; shallow and deep trees),
#: so 1000 leaves room to converge while bounding a fit whose validation loss keeps creeping down.
MAX_TREES = 1000

#: Trees of a fit on too few rows to hold any out; both libraries' default count.
SMALL_DATA_TREES = 100

#: Defaults shared by the four estimators (see :class:`EarlyStoppingLGBMClassifier`).
VALIDATION_FRACTION = 0.15
MIN_VALIDATION_ROWS = 30
EARLY_STOPPING_ROUNDS = 50

#: LightGBM 4.7 takes the validation data as eval_X/eval_y and deprecates eval_set.
_LIGHTGBM_EVAL_XY = "eval_X" in inspect.signature(LGBMClassifier.fit).parameters

#: Our constructor arguments, which are not booster parameters and must not reach the booster.
_OWN_PARAMS = (
    "validation_fraction",
    "min_validation_rows",
    "refit",
    "small_data_n_estimators",
    "reorder_rows",
)


def _split_seed(random_state: Any) -> int:
    """The validation split follows the estimator's seed; unseeded means seed 0, like the
    libraries themselves (both boost deterministically when no seed is given)."""
    if random_state is None:
        return 0
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(np.iinfo(np.int32).max))
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(np.iinfo(np.int32).max))
    return int(random_state)


def validation_split(
    y: Any, *, fraction: float, min_rows: int, stratify: bool, seed: int
) -> tuple[np.ndarray, np.ndarray] | None:
    """Row indices ``(train, validation)``, or ``None`` when too few rows to hold any out.

    Classification splits are stratified so both parts keep the class balance. A class with a
    single row cannot be stratified; such rows stay in the training part (a booster must see
    every class: XGBoost refuses labels with gaps, LightGBM would shrink ``predict_proba``).
    """
    labels = np.asarray(y).ravel()
    n_rows = len(labels)
    n_val = math.ceil(fraction * n_rows)
    if n_val < min_rows or n_rows - n_val < min_rows:
        return None
    rows = np.arange(n_rows)
    if not stratify:
        train, val = train_test_split(rows, test_size=n_val, random_state=seed)
        return np.sort(train), np.sort(val)
    classes, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    splittable = counts[inverse] >= 2
    pool = rows[splittable]
    pool_classes = len(np.unique(labels[pool]))
    if n_val < pool_classes or len(pool) - n_val < pool_classes:  # each part needs each class
        return None
    train, val = train_test_split(pool, test_size=n_val, stratify=labels[pool], random_state=seed)
    train = np.sort(np.concatenate([train, rows[~splittable]]))
    if len(np.unique(labels[train])) < len(classes):
        return None
    return train, np.sort(val)


def _planned_split(model: Any, y: Any, classifier: bool) -> tuple[np.ndarray, np.ndarray] | None:
    return validation_split(
        y,
        fraction=model.validation_fraction,
        min_rows=model.min_validation_rows,
        stratify=classifier,
        seed=_split_seed(model.random_state),
    )


def _parts(X: Any, y: Any, sample_weight: Any, split: tuple[np.ndarray, np.ndarray]) -> tuple:
    """Training and validation parts; with weights, both parts keep theirs, so the loss that
    stops the boosting is weighted like the loss the trees minimise."""
    train, val = split
    weight = None if sample_weight is None else _safe_indexing(sample_weight, train)
    val_weight = None if sample_weight is None else _safe_indexing(sample_weight, val)
    return (
        _safe_indexing(X, train),
        _safe_indexing(y, train),
        weight,
        _safe_indexing(X, val),
        _safe_indexing(y, val),
        val_weight,
    )


def _reordered_parts(
    X: np.ndarray, y: Any, sample_weight: Any, split: tuple[np.ndarray, np.ndarray]
) -> tuple[tuple, Any, Any]:
    """The parts as views of ``X``, whose rows are reordered in place so the validation rows
    come last; also ``y`` and ``sample_weight`` in the new row order (for the refit).

    Each validation row among the first ``len(train)`` rows swaps places with a training row
    after them, so the move copies those rows only (about a tenth) instead of the whole
    training part, which on 576,000 x 22 rows was 48 MiB per fit.
    """
    train, val = split
    n_train = len(train)
    head_val, tail_train = val[val < n_train], train[train >= n_train]
    X[head_val], X[tail_train] = X[tail_train], X[head_val]  # both sides are copies first
    order = np.arange(len(X))
    order[head_val], order[tail_train] = tail_train, head_val
    y = _safe_indexing(y, order)
    weight = None if sample_weight is None else _safe_indexing(sample_weight, order)
    head, tail = slice(0, n_train), slice(n_train, len(X))
    parts = (
        X[head],
        _safe_indexing(y, head),
        None if weight is None else _safe_indexing(weight, head),
        X[tail],
        _safe_indexing(y, tail),
        None if weight is None else _safe_indexing(weight, tail),
    )
    return parts, y, weight


#: XGBoost's CPU histogram cache, in tree nodes, on a compact table. At its default (65,536)
#: a depth-10 tree on 200,000 x 22 rows cached about 80 MiB of histograms; at 256 the fit
#: held 37 MiB, with the same predictions in the same time (depth 6: 45 against 27 MiB).
COMPACT_HIST_CACHE_NODES = 256


def for_compact_table(model: Any) -> Any:
    """``model`` set up to fit a compact table's preprocessed matrix (:mod:`tunelab.compact`):
    its early-stopping split reorders that matrix's rows instead of copying them, and an
    XGBoost caches fewer histograms. Other estimators are returned as they are."""
    if isinstance(model, _EarlyStopping):
        model.reorder_rows = True
    if isinstance(model, (XGBClassifier, XGBRegressor)):
        model.set_params(max_cached_hist_node=COMPACT_HIST_CACHE_NODES)
    return model


def _reorderable(X: Any, reorder_rows: bool) -> bool:
    return bool(reorder_rows) and isinstance(X, np.ndarray) and X.ndim == 2 and X.flags.writeable


_DESIGN = """
    Early stopping. ``fit(X, y)`` holds out ``validation_fraction`` of the rows (stratified for
    classification, drawn with ``random_state``), boosts on the rest with ``n_estimators`` as
    the cap and stops once the validation loss of the task (log loss for binary and multiclass,
    squared error for regression: the boosting objective itself, so the stopping rule measures
    what the trees optimise) has not improved for ``early_stopping_rounds`` rounds.
    ``best_n_estimators_`` is the number of boosting rounds found, ``validation_rows_`` the size
    of the held-out part.

    Refit on all rows (``refit=True``, the default). The booster is then fitted again on every
    row with exactly ``best_n_estimators_`` rounds, so no row is lost to the validation split.
    Measured on five tables of ``../shared/datasets`` with the two portfolio configurations per
    booster (5-fold CV, ``benchmarks/early_stopping.py``), the refit beat keeping the stopped
    model in 19 of 20 cases (ROC AUC +0.001 to +0.003, log loss 0.003 to 0.04 lower, R2 up to
    +0.008; most on the smaller tables) for about 1.5-2x the fit time, and in 6 of 6 time-budgeted
    ``tunelab.train`` runs it shipped the better test score despite fewer trials. Scaling the
    count up by ``1 / (1 - validation_fraction)`` for the larger training set was no better
    (mixed, within noise), so the count is used as found.
    ``refit=False`` keeps the model fitted on the training part (predictions use its best
    iteration; XGBoost keeps the patience rounds in the booster unused, LightGBM drops them).

    Small inputs. When the validation part would have fewer than ``min_validation_rows`` rows
    (below 200 rows at the defaults) the booster is fitted on every row with
    ``small_data_n_estimators`` trees (at most ``n_estimators``), the libraries' default count:
    a loss measured on a couple of dozen rows moves in steps of single rows, so the iteration
    it picks is mostly noise, and such a table cannot spare the rows either. The searched
    learning rate still sets how far those trees go. ``validation_rows_`` is then 0.

    Rows reordered (``reorder_rows=True``, set for a compact table's pipelines, see
    :mod:`tunelab.compact`). The rows of the numpy array ``fit`` is given are reordered in
    place so the validation part is its last rows, and both parts are views instead of
    copies. Only an array no one else reads may be given: the pipeline's own preprocessed
    matrix. The refit then sees the rows in that order.

    The extra constructor arguments are explicit keyword arguments, so ``get_params``,
    ``set_params`` and :func:`sklearn.base.clone` see them; they never reach the booster.
"""


class _EarlyStopping:
    """The constructor all four estimators share: their own arguments, explicit so that
    ``get_params``/``clone`` see them (both libraries' ``get_params`` merge a subclass's
    parameters with the library class's, skipping a mixin without ``get_params``)."""

    #: XGBoost takes ``early_stopping_rounds`` as its own parameter; LightGBM must not see it.
    _library_takes_patience = False
    #: Models saved before the argument existed read it here (``get_params``, ``clone``).
    reorder_rows = False
    early_stopping_rounds: int | None
    n_estimators: int | None

    def __init__(
        self,
        *,
        n_estimators: int = MAX_TREES,
        validation_fraction: float = VALIDATION_FRACTION,
        min_validation_rows: int = MIN_VALIDATION_ROWS,
        early_stopping_rounds: int = EARLY_STOPPING_ROUNDS,
        refit: bool = True,
        small_data_n_estimators: int = SMALL_DATA_TREES,
        reorder_rows: bool = False,
        **kwargs: Any,
    ) -> None:
        self.reorder_rows = reorder_rows
        self.validation_fraction = validation_fraction
        self.min_validation_rows = min_validation_rows
        self.refit = refit
        self.small_data_n_estimators = small_data_n_estimators
        if self._library_takes_patience:
            kwargs["early_stopping_rounds"] = early_stopping_rounds
        else:
            self.early_stopping_rounds = early_stopping_rounds
        super().__init__(n_estimators=n_estimators, **kwargs)  # type: ignore[call-arg]

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> Any:
        """Early stopping on a held-out split, then the refit (see the estimators' docs).

        One procedure for both libraries; how a library fits (plainly, or with early
        stopping on the validation part) and counts its rounds are the hooks below.
        """
        classifier = isinstance(self, (LGBMClassifier, XGBClassifier))
        split = _planned_split(self, y, classifier)
        if split is None:
            cap = self.n_estimators or MAX_TREES
            self._plain_fit(X, y, sample_weight, min(cap, self.small_data_n_estimators))
            self.best_n_estimators_ = self._rounds_fitted()
            self.validation_rows_ = 0
            return self
        if _reorderable(X, self.reorder_rows):
            parts, y, sample_weight = _reordered_parts(X, y, sample_weight, split)
        else:
            parts = _parts(X, y, sample_weight, split)
        best = self._stopped_fit(*parts)
        del parts  # the parts' copies are freed before the refit on every row
        if self.refit:
            self._plain_fit(X, y, sample_weight, best)
        self.best_n_estimators_ = best
        self.validation_rows_ = len(split[1])
        return self

    def _library_fit(self, X: Any, y: Any, **kwargs: Any) -> Any:
        """The library's own ``fit`` (the class after this mixin in the MRO)."""
        return super().fit(X, y, **kwargs)  # type: ignore[misc]

    def _plain_fit(self, X: Any, y: Any, sample_weight: Any, rounds: int) -> None:
        raise NotImplementedError

    def _stopped_fit(
        self, X: Any, y: Any, sample_weight: Any, X_val: Any, y_val: Any, val_weight: Any
    ) -> int:
        """Fits with early stopping on ``(X_val, y_val)`` (weighted by ``val_weight``);
        returns the rounds found."""
        raise NotImplementedError

    def _rounds_fitted(self) -> int:
        raise NotImplementedError


class _LightGBMEarlyStopping(_EarlyStopping):
    def _process_params(self, stage: str) -> dict[str, Any]:
        return _booster_params_lightgbm(super()._process_params(stage))  # type: ignore[misc]

    def _plain_fit(self, X: Any, y: Any, sample_weight: Any, rounds: int) -> None:
        # LightGBM reads the count from the instance; the parameter is restored afterwards.
        cap = self.n_estimators
        self.n_estimators = rounds
        try:
            self._library_fit(X, y, sample_weight=sample_weight)
        finally:
            self.n_estimators = cap

    def _stopped_fit(
        self, X: Any, y: Any, sample_weight: Any, X_val: Any, y_val: Any, val_weight: Any
    ) -> int:
        validation: dict[str, Any] = (
            {"eval_X": (X_val,), "eval_y": (y_val,)}
            if _LIGHTGBM_EVAL_XY
            else {"eval_set": [(X_val, y_val)]}
        )
        if val_weight is not None:
            validation["eval_sample_weight"] = [val_weight]
        self._library_fit(
            X,
            y,
            sample_weight=sample_weight,
            # Always an int here: only XGBoost's own parameter may be None.
            callbacks=[lightgbm.early_stopping(self.early_stopping_rounds, verbose=False)],  # type: ignore[arg-type]
            **validation,
        )
        # best_iteration_ counts rounds (1-based); predict() uses exactly that many by default.
        return self.best_iteration_ or self._rounds_fitted()  # type: ignore[attr-defined]

    def _rounds_fitted(self) -> int:
        return self.booster_.current_iteration()  # type: ignore[attr-defined]


class _XGBoostEarlyStopping(_EarlyStopping):
    _library_takes_patience = True

    def _wrapper_params(self) -> set[str]:
        """Our arguments stay out of the booster's parameters."""
        return super()._wrapper_params() | set(_OWN_PARAMS)  # type: ignore[misc]

    def _plain_fit(self, X: Any, y: Any, sample_weight: Any, rounds: int) -> None:
        # XGBoost reads both from the instance: a plain fit must not ask for early stopping.
        cap, patience = self.n_estimators, self.early_stopping_rounds
        self.n_estimators, self.early_stopping_rounds = rounds, None
        try:
            self._library_fit(X, y, sample_weight=sample_weight, verbose=False)
        finally:
            self.n_estimators, self.early_stopping_rounds = cap, patience

    def _stopped_fit(
        self, X: Any, y: Any, sample_weight: Any, X_val: Any, y_val: Any, val_weight: Any
    ) -> int:
        # The default evaluation metric follows the objective: logloss, mlogloss, rmse.
        self._library_fit(
            X,
            y,
            sample_weight=sample_weight,
            eval_set=[(X_val, y_val)],
            sample_weight_eval_set=None if val_weight is None else [val_weight],
            verbose=False,
        )
        # best_iteration is 0-based; predict() uses iterations [0, best_iteration] by default.
        return self.best_iteration + 1  # type: ignore[attr-defined]

    def _rounds_fitted(self) -> int:
        return self.get_booster().num_boosted_rounds()  # type: ignore[attr-defined]


class EarlyStoppingLGBMClassifier(_LightGBMEarlyStopping, LGBMClassifier):  # type: ignore[misc]
    __doc__ = "LightGBM classifier that finds its number of trees by early stopping.\n" + _DESIGN


class EarlyStoppingLGBMRegressor(_LightGBMEarlyStopping, LGBMRegressor):  # type: ignore[misc]
    __doc__ = "LightGBM regressor that finds its number of trees by early stopping.\n" + _DESIGN


class EarlyStoppingXGBClassifier(_XGBoostEarlyStopping, XGBClassifier):
    __doc__ = "XGBoost classifier that finds its number of trees by early stopping.\n" + _DESIGN


class EarlyStoppingXGBRegressor(_XGBoostEarlyStopping, XGBRegressor):
    __doc__ = "XGBoost regressor that finds its number of trees by early stopping.\n" + _DESIGN


def _booster_params_lightgbm(params: dict[str, Any]) -> dict[str, Any]:
    # LightGBM passes every get_params() entry to the booster, and "early_stopping_rounds" is
    # one of its aliases: left in, the booster would stop early by itself (or fail without a
    # validation set). Stopping is done by the callback in _stopped_fit instead.
    for name in (*_OWN_PARAMS, "early_stopping_rounds"):
        params.pop(name, None)
    return params


def _shared_params() -> dict[str, Distribution]:
    # No n_estimators: early stopping finds it (MAX_TREES is the cap). The learning rate starts
    # at 0.02, not 0.01: at 0.01 a stopped fit needs about twice the rounds of 0.02 (twice the
    # time per trial: 1183 and 1377 rounds on bank_churn and vehicle vs 587 and 540, past the cap).
    return {
        "learning_rate": Uniform(0.02, 0.3, log=True),
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
    params: dict[str, Distribution] = {
        **_shared_params(),
        "num_leaves": Uniform(8, 128, log=True, integer=True),
        "min_child_samples": Uniform(5, 50, integer=True),
    }
    if is_classification(task):  # imbalanced classes: reweighting them is a searched choice
        params["class_weight"] = CLASS_WEIGHTS
    return params


def _with_integer_cap(params: dict[str, Any]) -> dict[str, Any]:
    """A configuration from before early stopping may still carry ``n_estimators`` (a float, as
    hyperopt stores it, and no longer cast by the space): it stays usable, as the cap."""
    if "n_estimators" not in params:
        return params
    return {**params, "n_estimators": int(round(params["n_estimators"]))}


def _build_xgboost(params: dict[str, Any], task: TaskKind, seed: int, n_jobs: int):
    cls = EarlyStoppingXGBClassifier if is_classification(task) else EarlyStoppingXGBRegressor
    return cls(
        **_with_integer_cap(params),
        tree_method="hist",
        random_state=seed,
        n_jobs=n_jobs,
        verbosity=0,
    )


def _build_lightgbm(params: dict[str, Any], task: TaskKind, seed: int, n_jobs: int):
    cls = EarlyStoppingLGBMClassifier if is_classification(task) else EarlyStoppingLGBMRegressor
    # subsample only takes effect with a bagging frequency; deterministic keeps seeds honest.
    return cls(
        **_with_integer_cap(params),
        subsample_freq=1,
        random_state=seed,
        n_jobs=n_jobs,
        deterministic=True,
        force_col_wise=True,
        verbose=-1,
    )


# The portfolios hold only searched parameters: each entry is recorded for TPE in the form of
# its own proposals (tunelab.space.config_to_vals), which cannot express a fixed tree count.


def _xgboost_portfolio(task: TaskKind) -> list[dict[str, Any]]:
    """XGBoost's own defaults (early-stopped), then a slower-learning, subsampled configuration."""
    return [
        {
            "learning_rate": 0.3,
            "max_depth": 6,
            "min_child_weight": 1.0,
            "subsample": 1.0,
            "colsample_bytree": 1.0,
            "reg_lambda": 1.0,
        },
        {
            "learning_rate": 0.05,
            "max_depth": 4,
            "min_child_weight": 2.0,
            "subsample": 0.8,
            "colsample_bytree": 0.8,
            "reg_lambda": 1.0,
        },
    ]


def _lightgbm_portfolio(task: TaskKind) -> list[dict[str, Any]]:
    """LightGBM's own defaults (early-stopped), then a small-data configuration."""
    return [
        {
            "learning_rate": 0.1,
            "num_leaves": 31,
            "min_child_samples": 20,
            "subsample": 1.0,
            "colsample_bytree": 1.0,
            "reg_lambda": 0.001,
            **_unweighted_classes(task),
        },
        {
            "learning_rate": 0.03,
            "num_leaves": 15,
            "min_child_samples": 10,
            "subsample": 0.8,
            "colsample_bytree": 0.8,
            "reg_lambda": 1.0,
            **_unweighted_classes(task),
        },
    ]


def _unweighted_classes(task: TaskKind) -> dict[str, Any]:
    return {"class_weight": None} if is_classification(task) else {}


XGBOOST = ModelFamily(
    name="xgboost", params=_xgboost_params, build=_build_xgboost, portfolio=_xgboost_portfolio
)
LIGHTGBM = ModelFamily(
    name="lightgbm", params=_lightgbm_params, build=_build_lightgbm, portfolio=_lightgbm_portfolio
)

"""Boosters find their number of trees by early stopping on an inner validation split."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine, make_classification

from tunelab.model_types import unexpected_types
from tunelab.models.boosting import (
    MAX_TREES,
    EarlyStoppingLGBMClassifier,
    EarlyStoppingLGBMRegressor,
    EarlyStoppingXGBClassifier,
    EarlyStoppingXGBRegressor,
    validation_split,
)

LIBRARY_SETTINGS = {
    "lightgbm": {"deterministic": True, "force_col_wise": True, "verbose": -1},
    "xgboost": {"tree_method": "hist", "verbosity": 0},
}
CLASSES = {
    ("lightgbm", "classifier"): EarlyStoppingLGBMClassifier,
    ("lightgbm", "regressor"): EarlyStoppingLGBMRegressor,
    ("xgboost", "classifier"): EarlyStoppingXGBClassifier,
    ("xgboost", "regressor"): EarlyStoppingXGBRegressor,
}
LIBRARIES = ["lightgbm", "xgboost"]


def booster(library: str, kind: str, **params):
    return CLASSES[library, kind](random_state=0, n_jobs=1, **LIBRARY_SETTINGS[library], **params)


def data(task: str):
    loader = {"binary": load_breast_cancer, "multiclass": load_wine, "regression": load_diabetes}
    X, y = loader[task](return_X_y=True)
    if task == "multiclass":  # 178 rows: too few to hold out; the same classes, three times
        X = np.vstack([X, X + 0.01, X - 0.01])
        y = np.concatenate([y, y, y])
    return X, y


@pytest.mark.parametrize("library", LIBRARIES)
@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_fits_and_predicts_every_task_stopping_well_before_the_cap(library, task):
    X, y = data(task)
    kind = "regressor" if task == "regression" else "classifier"
    model = booster(library, kind, learning_rate=0.2).fit(X, y)
    assert model.validation_rows_ == int(np.ceil(0.15 * len(y)))
    assert 1 <= model.best_n_estimators_ < 300 < MAX_TREES == model.n_estimators
    predictions = model.predict(X)
    assert predictions.shape == (len(y),)
    if kind == "classifier":
        assert set(predictions) <= set(y)
        probabilities = model.predict_proba(X)
        assert probabilities.shape == (len(y), len(set(y)))
        assert np.allclose(probabilities.sum(axis=1), 1)
        assert (predictions == y).mean() > 0.9
    else:
        assert np.corrcoef(predictions, y)[0, 1] > 0.6


@pytest.mark.parametrize("library", LIBRARIES)
def test_refit_uses_every_row_with_the_count_found(library):
    X, y = data("binary")
    kept = booster(library, "classifier", refit=False).fit(X, y)
    refitted = booster(library, "classifier").fit(X, y)
    # Same seed, same split, same stopping point; only the final fit differs.
    assert refitted.best_n_estimators_ == kept.best_n_estimators_
    if library == "lightgbm":
        assert refitted.booster_.current_iteration() == refitted.best_n_estimators_
        # LightGBM drops the patience rounds itself when training ends.
        assert kept.booster_.current_iteration() == kept.best_n_estimators_
    else:
        assert refitted.get_booster().num_boosted_rounds() == refitted.best_n_estimators_
        # XGBoost keeps the patience rounds; predict() stops at best_iteration.
        assert kept.get_booster().num_boosted_rounds() == kept.best_n_estimators_ + 50
        best_only = kept.predict_proba(X, iteration_range=(0, kept.best_n_estimators_))
        np.testing.assert_array_equal(kept.predict_proba(X), best_only)
    assert not np.allclose(refitted.predict_proba(X), kept.predict_proba(X))


@pytest.mark.parametrize("library", LIBRARIES)
@pytest.mark.parametrize("task", ["binary", "regression"])
def test_reordered_rows_stop_on_the_same_validation_rows_without_copying_the_training_part(
    library, task
):
    """``reorder_rows`` moves the validation rows to the end of the array it is given (the
    same rows as the copying split holds out) and boosts on views of it."""
    X, y = data(task)
    X = np.ascontiguousarray(X, dtype=np.float32)
    kind = "regressor" if task == "regression" else "classifier"
    plain = booster(library, kind, learning_rate=0.2).fit(X.copy(), y)
    moved = X.copy()
    reordered = booster(library, kind, learning_rate=0.2, reorder_rows=True).fit(moved, y)
    validation = validation_split(y, fraction=0.15, min_rows=30, stratify=kind == "classifier",
                                  seed=0)[1]  # fmt: skip
    held_out = moved[len(y) - len(validation) :]
    assert sorted(map(tuple, held_out)) == sorted(map(tuple, X[validation]))
    assert sorted(map(tuple, moved)) == sorted(map(tuple, X)) and not np.array_equal(moved, X)
    assert reordered.validation_rows_ == plain.validation_rows_
    assert (
        abs(reordered.best_n_estimators_ - plain.best_n_estimators_)
        <= 0.2 * plain.best_n_estimators_ + 2
    )
    predict = "predict" if kind == "regressor" else "predict_proba"
    agreement = np.corrcoef(
        getattr(reordered, predict)(X).ravel(), getattr(plain, predict)(X).ravel()
    )
    assert agreement[0, 1] > 0.98
    untouched = X.copy()
    booster(library, kind, learning_rate=0.2).fit(untouched, y)
    np.testing.assert_array_equal(untouched, X)  # the default never touches its input


@pytest.mark.parametrize("library", LIBRARIES)
def test_same_seed_same_model_other_seed_other_split(library):
    X, y = data("binary")
    first = booster(library, "classifier", subsample=0.8).fit(X, y)
    second = clone(first).fit(X, y)
    np.testing.assert_array_equal(first.predict_proba(X), second.predict_proba(X))
    assert first.best_n_estimators_ == second.best_n_estimators_
    splits = {
        seed: validation_split(y, fraction=0.15, min_rows=30, stratify=True, seed=seed)[1]
        for seed in (0, 1)
    }
    assert not np.array_equal(splits[0], splits[1])


@pytest.mark.parametrize("library", LIBRARIES)
@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_clone_and_params_round_trip(library, kind):
    model = booster(
        library,
        kind,
        n_estimators=700,
        validation_fraction=0.2,
        min_validation_rows=10,
        early_stopping_rounds=7,
        refit=False,
        small_data_n_estimators=40,
        learning_rate=0.05,
    )
    params = model.get_params()
    expected = {
        "n_estimators": 700,
        "validation_fraction": 0.2,
        "min_validation_rows": 10,
        "early_stopping_rounds": 7,
        "refit": False,
        "small_data_n_estimators": 40,
        "learning_rate": 0.05,
        "random_state": 0,
        **LIBRARY_SETTINGS[library],
    }
    assert {k: params[k] for k in expected} == expected
    twin = clone(model)
    assert type(twin) is type(model) and twin.get_params() == params
    twin.set_params(validation_fraction=0.3, early_stopping_rounds=9)
    assert twin.validation_fraction == 0.3 and twin.early_stopping_rounds == 9
    assert clone(twin).get_params() == {
        **params,
        "validation_fraction": 0.3,
        "early_stopping_rounds": 9,
    }
    assert model.validation_fraction == 0.2  # the original is untouched
    defaults = CLASSES[library, kind]().get_params()
    assert defaults["n_estimators"] == MAX_TREES and defaults["refit"] is True


@pytest.mark.parametrize("library", LIBRARIES)
def test_our_arguments_never_reach_the_booster(library):
    X, y = data("binary")
    # A validation split is never below 10 rows; a booster told early_stopping_rounds=10
    # without eval data would fail, and unknown parameters would be warned about.
    model = booster(library, "classifier", min_validation_rows=10, early_stopping_rounds=10)
    model.fit(X[:60], y[:60])
    assert model.validation_rows_ == 0
    is_lgbm = library == "lightgbm"
    booster_params = model.booster_.params if is_lgbm else model.get_xgb_params()
    ours = {"validation_fraction", "min_validation_rows", "refit", "small_data_n_estimators"}
    assert not ours & set(booster_params)
    assert "early_stopping_rounds" not in booster_params


@pytest.mark.parametrize("library", LIBRARIES)
@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_small_inputs_fall_back_to_a_plain_fit(library, kind):
    X, y = data("binary" if kind == "classifier" else "regression")
    X, y = X[:150], y[:150]  # a 15 % split would be 23 rows, fewer than 30
    model = booster(library, kind, learning_rate=0.1).fit(X, y)
    assert model.validation_rows_ == 0
    assert model.best_n_estimators_ == 100
    assert model.get_params()["n_estimators"] == MAX_TREES  # the cap is restored
    assert model.get_params()["early_stopping_rounds"] == 50
    assert model.predict(X).shape == (150,)
    capped = booster(library, kind, n_estimators=30).fit(X, y)
    assert capped.best_n_estimators_ == 30


def test_validation_split_is_stratified_and_keeps_every_class_in_training():
    y = np.array([0] * 300 + [1] * 100 + [2] * 1)  # class 2 has a single row
    train, val = validation_split(y, fraction=0.15, min_rows=30, stratify=True, seed=3)
    assert len(val) == 61 and len(train) + len(val) == len(y)
    assert not set(train) & set(val)
    assert 400 in train  # the single row of class 2
    assert np.bincount(y[val]).tolist() == [46, 15]
    # Too few rows for a validation part of min_rows: no split.
    assert validation_split(y[:150], fraction=0.15, min_rows=30, stratify=True, seed=0) is None
    regression = validation_split(
        np.arange(400.0), fraction=0.1, min_rows=30, stratify=False, seed=0
    )
    assert regression is not None and len(regression[1]) == 40


@pytest.mark.parametrize("library", LIBRARIES)
def test_a_rare_class_still_fits_and_is_predicted(library):
    X, y = make_classification(400, n_features=8, n_informative=5, n_classes=3, random_state=0)
    y[0] = 3  # one row of a fourth class: it must stay in the training part
    model = booster(library, "classifier").fit(X, y)
    assert model.validation_rows_ > 0
    assert model.predict_proba(X).shape == (400, 4)


@pytest.mark.parametrize("library", LIBRARIES)
def test_fitted_booster_round_trips_through_skops_under_the_allow_list(library):
    X, y = data("binary")
    frame = pd.DataFrame(X)
    for refit in (True, False):
        model = booster(library, "classifier", refit=refit).fit(frame, y)
        payload = sio.dumps(model)
        untrusted = sio.get_untrusted_types(data=payload)
        assert f"tunelab.models.boosting.{type(model).__name__}" in untrusted
        assert unexpected_types(untrusted) == []
        loaded = sio.loads(payload, trusted=untrusted)
        np.testing.assert_array_equal(loaded.predict_proba(frame), model.predict_proba(frame))


@pytest.mark.parametrize("task", ["binary", "regression"])
def test_portfolio_and_older_configurations_flow_through_the_space(task):
    """Starting points become TPE values; a config that still names n_estimators builds too."""
    from tunelab.models import get_family
    from tunelab.pipelines import build_pipeline, infer_schema, normalise_config
    from tunelab.space import config_to_vals, portfolio_configs

    families = ["lightgbm", "xgboost"]
    for family in families:
        assert "n_estimators" not in get_family(family).params(task)
    for config in portfolio_configs(task, families):
        vals = config_to_vals(normalise_config(config, task), task, families)
        family = config["model"]["family"]
        assert {k for k, v in vals.items() if k.startswith(f"{family}.") and v} == {
            f"{family}.{name}" for name in get_family(family).params(task)
        }
    X, y = data(task)
    frame = pd.DataFrame(X[:300], columns=[f"x{i}" for i in range(X.shape[1])])
    target = pd.Series(y[:300], name="y")
    schema = infer_schema(frame, target, task)
    for family, params in (("lightgbm", {"num_leaves": 15.0}), ("xgboost", {"max_depth": 3.0})):
        older = {"family": family, "n_estimators": 20.0, "learning_rate": 0.3, **params}
        config = {"model": older, "feature_selection": {"method": "none"}}
        pipeline = build_pipeline(config, schema, seed=0).fit(frame, target)
        step = getattr(pipeline, "estimator_", pipeline).named_steps["model"]
        assert step.n_estimators == 20 and step.best_n_estimators_ <= 20

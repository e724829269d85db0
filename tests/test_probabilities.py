"""No classifier tunelab ships predicts a probability of exactly 0 or 1; the card's interval."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import t
from sklearn.metrics import log_loss, roc_auc_score

from tests.conftest import TINY_SEARCH
from tunelab.card import estimate_interval
from tunelab.pipelines import build_pipeline, infer_schema


def test_pure_forest_leaves_get_a_floor_that_changes_no_prediction_or_ranking(wine_csv):
    frame = pd.read_csv(wine_csv)
    y, X = frame.pop("cultivar"), frame
    schema = infer_schema(X, y, "multiclass")
    config = {
        "model": {"family": "random_forest", "n_estimators": 30, "max_depth": None,
                  "min_samples_leaf": 1, "max_features": 0.5},
        "feature_selection": {"method": "none"},
    }  # fmt: skip
    floored = build_pipeline(config, schema, seed=0).fit(X, y)
    raw = build_pipeline(config, schema, seed=0).set_params(probability_floor=0.0).fit(X, y)
    assert (raw.predict_proba(X) == 1).any()  # pure leaves everywhere on its training rows
    proba = floored.predict_proba(X)
    assert proba.min() > 0 and proba.max() < 1
    np.testing.assert_allclose(proba.sum(axis=1), 1)
    np.testing.assert_array_equal(floored.predict(X), raw.predict(X))
    for k in range(3):  # the mix is increasing: one-vs-rest AUC is exactly the same
        positive = y == floored.classes_[k]
        assert roc_auc_score(positive, proba[:, k]) == roc_auc_score(
            positive, raw.predict_proba(X)[:, k]
        )


def test_a_knn_run_ships_no_zero_or_one_probability_and_a_sane_log_loss(wine_csv, tmp_path):
    """k-NN's 0/1 probabilities cost ~36 per wrong row; the shipped model, loaded through
    the registry's allow-list, has none, and its estimate and test score are finite."""
    import tunelab

    frame = pd.read_csv(wine_csv)
    result = tunelab.train(
        frame, target="cultivar", families=["knn"], orchestrate=False, seed=1,
        data_dir=str(tmp_path), report=False, **TINY_SEARCH,
    )  # fmt: skip
    assert result.metric == "neg_log_loss" and result.best_family == "knn"
    model = tunelab.load_model(result.name, data_dir=str(tmp_path)).model
    proba = model.predict_proba(frame.drop(columns=["cultivar"]))
    assert proba.min() > 0 and proba.max() < 1
    unseen_loss = log_loss(frame["cultivar"], proba, labels=model.classes_)
    assert math.isfinite(unseen_loss) and unseen_loss < 1.0
    assert all(-5 < s < 0 for s in result.outer_cv["scores"])
    assert -5 < result.test_score < 0


def test_interval_is_a_t_prediction_interval_capped_at_the_metrics_best_value():
    scores = [0.79, 0.83, 0.82]
    mean, std = np.mean(scores), np.std(scores, ddof=1)
    half = t.ppf(0.975, 2) * std * math.sqrt(1 + 1 / 3)
    assert estimate_interval(scores, "roc_auc") == pytest.approx((mean - half, mean + half))
    assert estimate_interval([0.99, 0.999, 0.95], "roc_auc")[1] == 1.0
    assert estimate_interval([-0.3, -0.01], "neg_log_loss")[1] == 0.0
    assert estimate_interval([0.5], "r2") == (0.5, 0.5)


def test_the_card_and_the_summary_state_the_interval(churn_csv, tmp_path, capsys):
    from tunelab.cli import main

    code = main(
        ["run", "--data", str(churn_csv), "--target", "churned", "--no-prefect", "--no-report",
         "--families", "linear", "--max-evals", "2", "--outer-folds", "3", "--inner-folds", "2",
         "--data-dir", str(tmp_path)]
    )  # fmt: skip
    assert code == 0
    import tunelab

    outer = tunelab.load_model("churn-churned", data_dir=str(tmp_path)).metadata["metrics"][
        "outer_cv"
    ]
    assert outer["interval_low"] < outer["min"] <= outer["max"] < outer["interval_high"] <= 1
    low, high = estimate_interval(outer["scores"], "roc_auc")
    assert (outer["interval_low"], outer["interval_high"]) == (low, high)
    assert f"95% interval: {low:.4f} – {high:.4f}" in capsys.readouterr().out


def test_a_blend_of_floored_members_has_no_zero_or_one_probability(wine_csv):
    from tunelab.pipelines.ensemble import build_blend

    frame = pd.read_csv(wine_csv)
    y, X = frame.pop("cultivar"), frame
    schema = infer_schema(X, y, "multiclass")
    knn = {"model": {"family": "knn", "n_neighbors": 1, "weights": "uniform", "p": 2},
           "feature_selection": {"method": "none"}}  # fmt: skip
    three = {**knn, "model": {**knn["model"], "n_neighbors": 3}}
    blend = build_blend([(knn, 0.5), (three, 0.5)], schema, seed=0).fit(X, y)
    proba = blend.predict_proba(X)  # both members are sure of most training rows
    assert proba.min() > 0 and proba.max() < 1
    np.testing.assert_allclose(proba.sum(axis=1), 1)

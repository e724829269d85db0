"""The TPE search on its own: failures, checkpoints, resumption and limits."""

from __future__ import annotations

import pandas as pd
import pytest
from sklearn.naive_bayes import MultinomialNB

from tunelab.errors import SearchFailedError
from tunelab.example import example_data_path
from tunelab.models import FAMILIES, ModelFamily
from tunelab.pipelines import infer_schema
from tunelab.search import SearchSettings, load_trials, record_from_trial, run_search


@pytest.fixture(scope="module")
def churn():
    frame = pd.read_csv(example_data_path()).head(200)
    X, y = frame.drop(columns=["churned"]), frame["churned"]
    return X, y, infer_schema(X, y, "binary")


@pytest.fixture
def broken_family(monkeypatch):
    """A real estimator that fails here: scaled inputs go negative and MultinomialNB refuses."""
    family = ModelFamily(
        name="naive_bayes",
        params=lambda task: {},
        build=lambda p, t, s, n: MultinomialNB(),
        needs_scaling=True,
    )
    monkeypatch.setitem(FAMILIES, "naive_bayes", family)
    return family.name


def settings(schema, families, max_evals, **extra) -> SearchSettings:
    return SearchSettings(
        schema=schema,
        families=tuple(families),
        metric="roc_auc",
        inner_folds=2,
        max_evals=max_evals,
        seed=5,
        **extra,
    )


def test_failing_trials_are_recorded_and_the_family_dropped(churn, broken_family):
    X, y, schema = churn
    result = run_search(X, y, settings(schema, [broken_family, "linear"], 10), label="s")
    failed = [t for t in result.trials if t.status == "failed"]
    skipped = [t for t in result.trials if t.status == "skipped"]
    assert result.best_config["model"]["family"] == "linear"
    assert result.n_evaluated == 10
    # Three failures in a row drop the family; later proposals of it are skipped, not fitted.
    assert len(failed) == 3 and all(t.family == broken_family for t in failed)
    assert "Negative values" in failed[0].error
    assert all(t.family == broken_family and t.fit_seconds == 0 for t in skipped)


def test_search_where_every_family_fails_stops_with_a_clear_error(churn, broken_family):
    X, y, schema = churn
    with pytest.raises(SearchFailedError, match="all 3 trials failed.*Negative values"):
        run_search(X, y, settings(schema, [broken_family], 20), label="s")


def test_trial_timeout_cuts_slow_trials(churn):
    X, y, schema = churn
    with pytest.raises(SearchFailedError, match="exceeded its 1e-06s limit"):
        run_search(X, y, settings(schema, ["linear"], 5, trial_timeout=1e-6), label="s")


def test_resumed_search_keeps_finished_trials_and_matches_an_uninterrupted_one(churn, tmp_path):
    X, y, schema = churn
    families = ["linear", "knn", "lightgbm"]
    checkpoint = tmp_path / "resumed.pkl"
    run_search(X, y, settings(schema, families, 4), label="s", checkpoint=checkpoint)
    before = [record_from_trial("s", t) for t in load_trials(checkpoint).trials]
    resumed = run_search(X, y, settings(schema, families, 7), label="s", checkpoint=checkpoint)
    straight = run_search(
        X, y, settings(schema, families, 7), label="s", checkpoint=tmp_path / "straight.pkl"
    )
    assert len(before) == 4 and len(resumed.trials) == 7
    # Same records, same timings: the first four trials were read back, not fitted again.
    assert resumed.trials[:4] == before
    assert [t.config for t in resumed.trials] == [t.config for t in straight.trials]
    assert [t.score for t in resumed.trials] == [t.score for t in straight.trials]


def test_clearly_worse_trials_are_pruned_after_their_first_fold(churn, monkeypatch):
    """A constant-probability model (ROC AUC 0.5) need not finish its folds once a real one won."""
    from sklearn.dummy import DummyClassifier

    dummy = ModelFamily(
        name="dummy", params=lambda task: {}, build=lambda p, t, s, n: DummyClassifier()
    )
    monkeypatch.setitem(FAMILIES, "dummy", dummy)
    X, y, schema = churn
    search_settings = SearchSettings(
        schema=schema,
        families=("dummy", "linear"),
        metric="roc_auc",
        inner_folds=3,
        max_evals=10,
        seed=2,
    )
    trials = run_search(X, y, search_settings, label="s").trials
    first_linear = next(t.number for t in trials if t.family == "linear" and t.status == "ok")
    later_dummies = [t for t in trials if t.family == "dummy" and t.number > first_linear]
    assert later_dummies, "the seed should propose the dummy family after a linear trial"
    assert all(t.status == "pruned" and "after 1 of 3 folds" in t.error for t in later_dummies)
    assert len(trials) == 10  # pruned trials count as evaluated

    unpruned = run_search(
        X, y, SearchSettings(**{**search_settings.__dict__, "prune": False}), label="s"
    ).trials
    assert not any(t.status == "pruned" for t in unpruned)


def test_trials_skip_the_booster_refit_that_shipped_models_keep(churn):
    """Ranking configurations needs only the early-stopped booster; the shipped one refits."""
    from tunelab.pipelines import build_pipeline
    from tunelab.search import without_booster_refit

    X, y, schema = churn
    config = {
        "model": {"family": "xgboost", "learning_rate": 0.1, "max_depth": 3,
                  "min_child_weight": 1.0, "subsample": 1.0, "colsample_bytree": 1.0,
                  "reg_lambda": 1.0},
        "feature_selection": {"method": "none"},
    }  # fmt: skip
    shipped = build_pipeline(config, schema, seed=0)
    trial = without_booster_refit(build_pipeline(config, schema, seed=0))
    assert shipped.get_params()["estimator__model__refit"] is True
    assert trial.get_params()["estimator__model__refit"] is False
    linear = build_pipeline({**config, "model": {"family": "linear", "C": 1.0}}, schema, seed=0)
    assert without_booster_refit(linear).get_params() == linear.get_params()

"""Greedy ensemble selection and successive-halving promotion, on real fits."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_diabetes, load_wine
from sklearn.ensemble import VotingClassifier, VotingRegressor
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import get_scorer

from tunelab.ensemble import (
    Member,
    OutOfFold,
    affordable,
    fold_predictions,
    greedy_weights,
    score_stored,
)
from tunelab.pipelines import infer_schema
from tunelab.pipelines.ensemble import build_blend
from tunelab.registry import ModelRegistry
from tunelab.search import (
    PROMOTION_MIN_TRIALS,
    SearchSettings,
    TrialRecord,
    is_promoted,
    run_search,
)


@pytest.mark.parametrize(
    ("loader", "classification", "metrics"),
    [
        (load_wine, True, ["neg_log_loss", "accuracy", "roc_auc_ovr", "f1_macro"]),
        (load_diabetes, False, ["r2", "neg_root_mean_squared_error", "neg_mean_absolute_error"]),
    ],
)
def test_stored_predictions_score_exactly_like_the_fitted_estimator(
    loader, classification, metrics
):
    X, y = loader(return_X_y=True, as_frame=True)
    order = np.random.default_rng(0).permutation(len(y))
    X, y = X.iloc[order], y.iloc[order]
    if classification:
        y = y.map(lambda v: f"class-{v}")  # string labels, as users have them
    model = (LogisticRegression(max_iter=300) if classification else Ridge()).fit(X[:100], y[:100])
    predictions = fold_predictions(model, X[100:], classification)
    classes = np.unique(y) if classification else None
    for metric in metrics:
        scorer = get_scorer(metric)
        assert score_stored(scorer, predictions, y[100:], classes) == pytest.approx(
            scorer(model, X[100:], y[100:])
        )


def test_greedy_selection_blends_complementary_predictors_and_never_loses_to_the_best():
    rng = np.random.default_rng(3)
    y = rng.normal(size=400)
    # Two predictors with independent errors: their average is better than either.
    first, second = y + rng.normal(scale=0.8, size=400), y + rng.normal(scale=0.9, size=400)
    weak = -y + rng.normal(scale=0.5, size=400)  # wrong way round: never helps
    scorer = get_scorer("r2")
    counts, blended = greedy_weights([first, second, weak], y, scorer, None, rounds=20)
    singles = [score_stored(scorer, p, y, None) for p in (first, second, weak)]
    assert counts[0] > 0 and counts[1] > 0 and counts[0] + counts[1] > counts[2]
    assert blended > max(singles) + 0.05
    # A nearly exact candidate stays alone: blending anything in only hurts.
    exact = y + rng.normal(scale=0.05, size=400)
    counts, blended = greedy_weights([exact, weak], y, scorer, None, rounds=20)
    assert counts == [1, 0] and blended == pytest.approx(score_stored(scorer, exact, y, None))


def test_out_of_fold_pool_keeps_only_the_best_trials():
    pool = OutOfFold(classes=None, pool=2)
    for trial, score in enumerate([0.5, 0.9, 0.7, 0.1]):
        pool.add(trial, score, np.full(3, float(trial)))
    assert [t for t, _ in pool.ranked()] == [1, 2]


def test_out_of_fold_pool_keeps_each_familys_best_beside_the_top_trials():
    pool = OutOfFold(classes=None, pool=2)
    trials = [("lightgbm", 0.90), ("knn", 0.60), ("lightgbm", 0.89), ("knn", 0.55)]
    trials += [("lightgbm", 0.88), ("linear", 0.40), ("lightgbm", 0.91)]
    for trial, (family, score) in enumerate(trials):
        pool.add(trial, score, np.full(3, float(trial)), family)
    # the two best overall (both LightGBM), then each other family's best, not its second
    assert [t for t, _ in pool.ranked()] == [6, 0, 1, 5]


def test_an_ensemble_costing_too_much_to_refit_is_trimmed_to_what_it_may_cost():
    config = {"model": {"family": "linear"}}
    members = [
        Member(config, 0.5, 0, "a"),
        Member(config, 0.3, 1, "b"),
        Member(config, 0.2, 2, "c"),
    ]
    kept = affordable(members, {0: 1.0, 1: 1.5, 2: 10.0}, factor=3.0)
    assert [m.trial for m in kept] == [0, 1]
    assert sum(m.weight for m in kept) == pytest.approx(1.0)


def test_first_fold_promotion_keeps_the_top_third():
    records = [
        TrialRecord("s", i, "linear", "ok", s, 0.0, 0.1, {}, fold_scores=[s, s])
        for i, s in enumerate([0.60, 0.70, 0.80, 0.90, 0.65, 0.75])
    ]
    assert is_promoted(0.1, records[: PROMOTION_MIN_TRIALS - 1])  # too few to judge yet
    assert is_promoted(0.85, records)
    assert not is_promoted(0.70, records)


@pytest.fixture(scope="module")
def wine():
    X, y = load_wine(return_X_y=True, as_frame=True)
    y = y.map({0: "barolo", 1: "grignolino", 2: "barbera"})
    return X, y, infer_schema(X, y, "multiclass")


def test_search_ships_a_blend_that_registers_and_loads_under_the_allow_list(wine, tmp_path):
    """A real search keeps out-of-fold predictions and blends; the blend is one estimator."""
    X, y, schema = wine
    settings = SearchSettings(
        schema=schema,
        families=("linear", "knn", "extra_trees"),
        metric="neg_log_loss",
        inner_folds=3,
        max_evals=8,
        seed=1,
        ensemble_rounds=15,
    )
    result = run_search(X, y, settings, label="final")
    members = result.shipped
    assert len(members) > 1, [(t.family, t.status, t.score) for t in result.trials]
    assert sum(m.weight for m in members) == pytest.approx(1.0)
    assert result.ensemble_score is not None and result.ensemble_score >= result.best_score - 0.05
    model = build_blend([(m.config, m.weight) for m in members], schema, seed=1).fit(X, y)
    assert isinstance(model, VotingClassifier)
    registry = ModelRegistry(tmp_path)
    registry.register("blend", model, {"task": "multiclass"}, pd.DataFrame({"t": [0]}))
    loaded = registry.load("blend").model
    np.testing.assert_allclose(loaded.predict_proba(X), model.predict_proba(X))
    assert set(loaded.predict(X)) <= set(y)

    single = run_search(
        X, y, SearchSettings(**{**settings.__dict__, "ensemble_rounds": 0}), label="final"
    )
    assert single.members == [] and len(single.shipped) == 1
    assert [t.score for t in single.trials] == [t.score for t in result.trials]


def test_regression_blend_round_trips(tmp_path):
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    schema = infer_schema(X, y, "regression")
    configs = [
        {"model": {"family": "linear", "alpha": 1.0}, "feature_selection": {"method": "none"}},
        {"model": {"family": "knn", "n_neighbors": 15, "weights": "distance", "p": 2},
         "feature_selection": {"method": "none"}},
    ]  # fmt: skip
    model = build_blend([(configs[0], 0.7), (configs[1], 0.3)], schema, seed=0).fit(X, y)
    assert isinstance(model, VotingRegressor)
    registry = ModelRegistry(tmp_path)
    registry.register("blend", model, {"task": "regression"}, pd.DataFrame({"t": [0]}))
    np.testing.assert_allclose(registry.load("blend").model.predict(X), model.predict(X))


def test_with_no_time_left_a_blend_ships_its_heaviest_member_alone():
    """The refit trim uses the choosing search's measured fold times (outer fold's when the
    final search was skipped); with no time left only the top member remains."""
    from tunelab.ensemble import member_refit_seconds

    config = {"model": {"family": "linear"}}
    trials = [
        TrialRecord("outer-0", 0, "linear", "ok", 0.8, 0.0, 3.0, config, fold_scores=[0.8] * 3),
        TrialRecord("outer-0", 1, "knn", "ok", 0.7, 0.0, 6.0, config, fold_scores=[0.7] * 3),
    ]
    seconds = member_refit_seconds(trials)
    assert seconds == {0: 1.0, 1: 2.0}
    members = [Member(config, 0.3, 0, "linear"), Member(config, 0.7, 1, "knn")]
    kept = affordable(members, seconds, limit_seconds=-5.0)
    assert [(m.trial, m.weight) for m in kept] == [(1, 1.0)]
    assert len(affordable(members, seconds, limit_seconds=100.0)) == 2


def test_a_blend_trimmed_to_one_member_ships_the_best_single_pipeline():
    from tunelab.engine import best_single_if_alone
    from tunelab.search import SearchResult

    def record(number: int, family: str, score: float) -> TrialRecord:
        config = {"model": {"family": family}}
        return TrialRecord("final", number, family, "ok", score, 0.0, 1.0, config)

    trials = [record(0, "xgboost", -0.559), record(1, "random_forest", -0.590)]
    search = SearchResult("final", trials[0].config, -0.559, trials)
    heaviest_alone = [Member(trials[1].config, 1.0, 1, "random_forest")]
    shipped = best_single_if_alone(heaviest_alone, search)
    assert [(m.trial, m.family, m.weight) for m in shipped] == [(0, "xgboost", 1.0)]
    # Two members left stay a blend; so does the best trial left alone.
    pair = [Member(t.config, 0.5, t.number, t.family) for t in trials]
    assert best_single_if_alone(pair, search) == pair
    best_alone = [Member(trials[0].config, 1.0, 0, "xgboost")]
    assert best_single_if_alone(best_alone, search) == best_alone


def test_a_pipeline_too_slow_to_refit_in_time_gives_way_to_the_best_that_fits():
    """On a large table the final search can end on a configuration slower than the reserve
    was sized for: the best trial whose refit fits the time left ships instead."""
    from tunelab.search import affordable_single

    def record(number: int, family: str, status: str, score: float, seconds: float):
        config = {"model": {"family": family, "n": number}}
        return TrialRecord("final", number, family, status, score, 0.0, seconds, config, [score])

    trials = [
        record(0, "lightgbm", "ok", 0.83, 1.0),
        record(1, "xgboost", "ok", 0.85, 3.0),
        record(2, "lightgbm", "ok", 0.84, 2.0),
        record(3, "xgboost", "pruned", 0.90, 0.5),  # a partial score is not a candidate
    ]
    best = Member(trials[1].config, 1.0, 1, "xgboost")
    assert affordable_single(best, trials, limit_seconds=5.0) == best
    fallback = affordable_single(best, trials, limit_seconds=2.5)
    assert (fallback.trial, fallback.family, fallback.weight) == (2, "lightgbm", 1.0)
    assert fallback.config == trials[2].config
    assert affordable_single(best, trials, limit_seconds=1.5).trial == 0
    # Nothing fits: the best still ships (the refit on all rows is what gets skipped then).
    assert affordable_single(best, trials, limit_seconds=0.1) == best

"""Trials at once: they overlap in time, the same seed gives the same trials, resume keeps all."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tunelab.example import example_data_path
from tunelab.interrupt import STOP, RunInterrupted
from tunelab.pipelines import infer_schema
from tunelab.search import SearchSettings, load_trials, record_from_trial, run_search


def overlap_share(board: pd.DataFrame, search: str = "final") -> float:
    """The share of a search's fitted trials whose [started_at, finished_at] meets another's."""
    rows = board[(board["search"] == search) & (board["status"] != "skipped")]
    spans = [
        (pd.Timestamp(s), pd.Timestamp(f))
        for s, f in zip(rows["started_at"], rows["finished_at"], strict=True)
    ]
    overlapping = sum(
        any(i != j and a < d and c < b for j, (c, d) in enumerate(spans))
        for i, (a, b) in enumerate(spans)
    )
    return overlapping / max(1, len(spans))


def leaderboard_of(result, data_dir: Path) -> pd.DataFrame:
    from tunelab.store import open_store

    return open_store(str(data_dir)).leaderboard(result.name, result.version)


@pytest.fixture(scope="module")
def churn():
    frame = pd.read_csv(example_data_path()).head(240)
    X, y = frame.drop(columns=["churned"]), frame["churned"]
    return X, y, infer_schema(X, y, "binary")


def concurrent(schema, max_evals: int = 10) -> SearchSettings:
    return SearchSettings(
        schema=schema,
        families=("linear", "knn"),
        metric="roc_auc",
        inner_folds=2,
        max_evals=max_evals,
        seed=2,
        n_jobs=2,
        concurrent_trials=2,
    )


def test_final_search_trials_overlap_with_two_cores(churn_csv, tmp_path):
    import tunelab

    result = tunelab.train(
        str(churn_csv),
        target="churned",
        orchestrate=False,
        families=["linear", "knn"],
        max_evals=8,
        outer_folds=2,
        inner_folds=2,
        n_jobs=2,
        data_dir=str(tmp_path),
    )
    board = leaderboard_of(result, tmp_path)
    assert board["started_at"].notna().all() and board["finished_at"].notna().all()
    assert (pd.to_datetime(board["finished_at"]) >= pd.to_datetime(board["started_at"])).all()
    assert overlap_share(board) >= 0.3, board[["number", "started_at", "finished_at"]]


def test_same_seed_and_width_give_the_same_trials_whatever_finishes_first(churn):
    X, y, schema = churn
    first = run_search(X, y, concurrent(schema), label="final")
    second = run_search(X, y, concurrent(schema), label="final")
    assert overlap_share(pd.DataFrame([t.to_row() for t in first.trials])) > 0
    same = [(t.number, t.status, t.score, t.config) for t in first.trials]
    assert same == [(t.number, t.status, t.score, t.config) for t in second.trials]


def test_resume_with_trials_in_flight_loses_no_finished_trial(churn, tmp_path):
    X, y, schema = churn
    settings = concurrent(schema, max_evals=12)
    checkpoint = tmp_path / "final.trials.json"

    def stop_after_five(record, best, max_evals) -> None:
        if record.number >= 4:
            STOP.set()

    with pytest.raises(RunInterrupted):
        run_search(X, y, settings, label="final", checkpoint=checkpoint, progress=stop_after_five)
    STOP.clear()
    saved = [record_from_trial("final", t) for t in load_trials(checkpoint).trials]
    assert 5 <= len(saved) < 12
    resumed = run_search(X, y, settings, label="final", checkpoint=checkpoint)
    by_number = {t.number: t for t in resumed.trials}
    for before in saved:  # every finished trial is kept as it was, none is redone
        after = by_number[before.number]
        assert (after.config, after.score, after.started_at) == (
            before.config,
            before.score,
            before.started_at,
        )
    uninterrupted = run_search(X, y, settings, label="final")
    assert [(t.number, t.config, t.score) for t in resumed.trials] == [
        (t.number, t.config, t.score) for t in uninterrupted.trials
    ]


def test_large_tables_get_one_holdout_boosters_first_and_no_slow_families():
    from tunelab.fidelity import (
        LARGE_ROWS,
        boosters_first,
        families_for_size,
        holdout_split,
    )

    rows = LARGE_ROWS + 1000
    y = pd.Series([0, 1] * (rows // 2))
    ((train, validation),) = holdout_split("binary", rows, y, seed=0)
    assert len(set(train) | set(validation)) == rows and not set(train) & set(validation)
    assert abs(y.iloc[validation].mean() - 0.5) < 0.01  # stratified
    everything = ["linear", "knn", "lightgbm", "xgboost", "random_forest", "extra_trees"]
    assert families_for_size(everything, True, requested=False) == ["linear", "lightgbm", "xgboost"]
    assert families_for_size(everything, True, requested=True) == everything
    assert families_for_size(everything, False, requested=False) == everything
    configs = [
        {"model": {"family": f}, "n": n}
        for n, f in enumerate(["linear", "xgboost", "lightgbm", "xgboost"])
    ]
    assert [(c["model"]["family"], c["n"]) for c in boosters_first(configs)] == [
        ("lightgbm", 2),
        ("xgboost", 1),
        ("linear", 0),
        ("xgboost", 3),
    ]


def test_a_trial_on_a_large_table_trains_on_a_capped_stratified_subset_keeping_rare_classes():
    from tunelab.fidelity import RARE_CLASS_ROWS, holdout_split, trial_rows_of
    from tunelab.trials import TrialRecord

    rows, cap = 60_000, 20_000
    labels = np.array(["a", "b"] * (rows // 2), dtype=object)
    labels[:500] = "rare"  # fewer than RARE_CLASS_ROWS: every one of its rows stays
    train = np.arange(10, rows)
    kept = trial_rows_of(train, labels, seed=0, cap=cap)
    assert len(kept) == cap and len(np.unique(kept)) == cap and np.isin(kept, train).all()
    assert (labels[kept] == "rare").sum() == 490 < RARE_CLASS_ROWS
    assert abs((labels[kept] == "a").sum() - (labels[kept] == "b").sum()) <= 1  # stratified
    assert np.array_equal(np.sort(kept), np.sort(trial_rows_of(train, labels, seed=0, cap=cap)))
    assert not np.array_equal(np.sort(kept), np.sort(trial_rows_of(train, labels, 1, cap=cap)))
    assert len(trial_rows_of(train, None, seed=0, cap=cap)) == cap  # regression: plain sample
    np.testing.assert_array_equal(trial_rows_of(train[:cap], labels, 0, cap=cap), train[:cap])
    ((fit, validation),) = holdout_split("binary", 300_000, pd.Series([0, 1] * 150_000), seed=0)
    assert len(fit) == 200_000 and len(validation) == 30_000 and not set(fit) & set(validation)
    record = TrialRecord("final", 0, "lightgbm", "ok", 0.9, 0.0, 10.0, {}, row_share=0.25)
    assert record.seconds_per_fold == 10.0 and record.refit_seconds == 40.0


def test_holdout_fidelity_follows_the_cells_a_budget_affords():
    """FLAML's rule: 36,000 x 16 cells get one holdout at 30 s and 120 s, 3,300 x 8 never."""
    from tunelab.fidelity import LARGE_ROWS, scores_on_one_holdout

    assert scores_on_one_holdout(36_169, 16, 30) and scores_on_one_holdout(36_169, 16, 120)
    assert scores_on_one_holdout(16_512, 9, 30) and not scores_on_one_holdout(16_512, 9, 120)
    assert not scores_on_one_holdout(3_341, 8, 30)
    assert not scores_on_one_holdout(36_169, 16, None)
    assert scores_on_one_holdout(LARGE_ROWS + 1, 2, None)


def test_refits_of_large_tables_keep_the_early_stopped_booster(churn):
    from tunelab.ensemble import Member
    from tunelab.fidelity import LARGE_ROWS
    from tunelab.nested_cv import build_chosen
    from tunelab.space import portfolio_configs

    _, _, schema = churn
    (config, *_) = portfolio_configs("binary", ["lightgbm"])
    members = [Member(config, 1.0, 0, "lightgbm")]
    settings = concurrent(schema)

    def refits(rows: int) -> list[bool]:
        params = build_chosen(members, settings, rows=rows).get_params()
        return [v for k, v in params.items() if k.endswith("model__refit")]

    assert refits(LARGE_ROWS + 1) == [False] and refits(1000) == [True]


def test_refit_boosters_of_small_tables_fit_on_one_thread_forests_on_every_core(churn):
    """A second OpenMP thread slows a booster's fit on a small table tenfold here (see
    tunelab.cores); forests keep every core, and a blend fits its members side by side."""
    from tunelab.cores import THREADED_BOOSTER_ROWS, booster_threads
    from tunelab.ensemble import Member
    from tunelab.nested_cv import build_chosen
    from tunelab.space import portfolio_configs

    _, _, schema = churn
    configs = portfolio_configs("binary", ["lightgbm", "xgboost", "random_forest"])
    members = [Member(c, 1.0, i, c["model"]["family"]) for i, c in enumerate(configs[:3])]
    settings = concurrent(schema)

    def threads(rows: int) -> dict[str, int]:
        params = build_chosen(members, settings, n_jobs=2, rows=rows).get_params()
        return {k: v for k, v in params.items() if k.endswith("n_jobs")}

    small = threads(5_000)
    families = [c["model"]["family"] for c in configs[:3]]
    assert [small[f"m{i}__estimator__model__n_jobs"] for i in range(3)] == [
        1 if family in ("lightgbm", "xgboost") else 2 for family in families
    ]
    assert small["n_jobs"] == 2  # members two at a time
    large = threads(THREADED_BOOSTER_ROWS)
    assert all(large[f"m{i}__estimator__model__n_jobs"] == 2 for i in range(3))
    assert booster_threads(8, THREADED_BOOSTER_ROWS - 1) == 1


def test_a_blend_fitted_side_by_side_predicts_exactly_like_one_fitted_member_by_member():
    """Weighted regression blends fit their members themselves (tunelab.weights): on two
    threads the members and the blend's predictions are those of a one-at-a-time fit."""
    from sklearn.datasets import load_diabetes

    from tunelab.pipelines.ensemble import build_blend
    from tunelab.weights import fit_weighted

    X, y = load_diabetes(return_X_y=True, as_frame=True)
    schema = infer_schema(X, y, "regression")
    configs = [
        {"model": {"family": "lightgbm"}, "feature_selection": {"method": "none"}},
        {"model": {"family": "random_forest", "n_estimators": 30},
         "feature_selection": {"method": "none"}},
    ]  # fmt: skip
    weights = (X["age"] - X["age"].min() + 0.01).to_numpy()
    members = [(configs[0], 0.6), (configs[1], 0.4)]
    together = fit_weighted(build_blend(members, schema, seed=0, n_jobs=2), X, y, weights)
    alone = fit_weighted(build_blend(members, schema, seed=0, n_jobs=1), X, y, weights)
    assert together.n_jobs == 2 and alone.n_jobs == 1
    assert len(together.estimators_) == 2
    pd.testing.assert_series_equal(
        pd.Series(together.predict(X)), pd.Series(alone.predict(X)), check_exact=False
    )


def test_report_draws_a_timeline_of_each_search(churn):
    from tunelab.report import timeline_figure

    X, y, schema = churn
    trials = run_search(X, y, concurrent(schema, max_evals=6), label="final").trials
    figure = timeline_figure("final", trials, {"linear": "red", "knn": "blue"})
    bars = [number for trace in figure.data for number in trace.y]
    assert sorted(bars) == sorted(t.number for t in trials)
    assert figure.layout.xaxis.type == "date"


def test_a_one_core_search_keeps_its_trials_to_one_thread_and_gives_the_cores_back():
    """``--n-jobs 1`` means one core: k-NN's OpenMP distance step and BLAS included."""
    import sklearn.neighbors  # noqa: F401  (loads scikit-learn's OpenMP runtime)
    from threadpoolctl import threadpool_info

    from tunelab.trial_pool import open_pool

    def threads() -> set[tuple[str, int]]:
        return {(i["user_api"], i["num_threads"]) for i in threadpool_info()}

    before = threads()
    with open_pool(1, one_core=True) as pool:
        inside = pool.submit(threads).result()
    assert {n for _, n in inside} == {1}
    assert threads() == before
    with open_pool(1) as pool:
        assert pool.submit(threads).result() == before

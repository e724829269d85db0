"""The training procedure in-process (no Prefect): what reaches each stage, budgets, seeds."""

from __future__ import annotations

import subprocess
import sys
import time
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import get_scorer

from tests.conftest import TINY_SEARCH
from tunelab.config import RunConfig
from tunelab.engine import train
from tunelab.runner import LocalRunner
from tunelab.store import open_store


class RecordingRunner(LocalRunner):
    """The real in-process runner, remembering the rows each stage was handed."""

    def __init__(self) -> None:
        self.seen: dict[str, list[Any]] = {}
        self.results: dict[str, Any] = {}

    def stage(self, name, fn, /, **kwargs):
        if "X" in kwargs:
            self.seen.setdefault(name, []).append(set(kwargs["X"].index))
        result = super().stage(name, fn, **kwargs)
        self.results[name] = result
        return result

    def map(self, name, fn, calls, workers):
        for call in calls:
            rows = call["X"].index[call["train_idx"]].union(call["X"].index[call["val_idx"]])
            self.seen.setdefault(name, []).append(set(call["X"].index))
            assert set(rows) == set(call["X"].index)
        return super().map(name, fn, calls, workers)


def config(csv, tmp_path, **extra) -> RunConfig:
    values = dict(data=str(csv), target="churned", data_dir=str(tmp_path), **TINY_SEARCH)
    return RunConfig.create(**{**values, **extra})


def test_no_search_sees_a_test_row_and_the_test_score_is_reproducible(churn_csv, tmp_path):
    runner = RecordingRunner()
    outcome = train(config(churn_csv, tmp_path, refit_full=False, seed=3), runner)
    split = runner.results["holdout-split"]
    test_rows, train_rows = set(split.X_test.index), set(split.X_train.index)
    assert test_rows and not test_rows & train_rows
    searched = runner.seen["outer-fold"] + runner.seen["final-search"]
    assert len(searched) == TINY_SEARCH["outer_folds"] + 1
    assert all(rows == train_rows for rows in searched)  # the final search included
    # The reported test score is the registered model's score on exactly those rows.
    entry = open_store(str(tmp_path)).load(outcome.result.name)
    frame = pd.read_csv(churn_csv).loc[sorted(test_rows)]
    score = get_scorer("roc_auc")(entry.model, frame.drop(columns=["churned"]), frame["churned"])
    assert score == pytest.approx(outcome.result.test_score)
    assert entry.metadata["refit_full"] is False


def test_refit_full_ships_a_model_fitted_on_every_row(churn_csv, tmp_path):
    runner = RecordingRunner()
    outcome = train(config(churn_csv, tmp_path, seed=3), runner)
    assert runner.seen["refit-on-all-rows"] == [set(pd.read_csv(churn_csv).index)]
    tested, shipped = runner.results["refit-and-test"][0], outcome.model
    assert shipped is not tested
    assert outcome.card.refit_full and outcome.card.metrics.test_score == outcome.result.test_score


def test_final_search_starts_from_the_outer_winners(churn_csv, tmp_path):
    outcome = train(config(churn_csv, tmp_path, max_evals=4), LocalRunner())
    final = sorted((t for t in outcome.trials if t.search == "final"), key=lambda t: t.number)
    best_of = {
        search: max(
            (t for t in outcome.trials if t.search == search and t.status == "ok"),
            key=lambda t: (t.score, -t.number),
        ).config
        for search in ("outer-0", "outer-1")
    }
    assert final[0].config == best_of["outer-0"]
    assert best_of["outer-1"] in [t.config for t in final[:2]]
    # Each outer search starts from the library defaults, the boosters' first.
    outer0 = sorted((t for t in outcome.trials if t.search == "outer-0"), key=lambda t: t.number)
    assert [t.family for t in outer0[:3]] == ["lightgbm", "xgboost", "linear"]
    assert outer0[0].config["model"]["num_leaves"] == 31  # LightGBM's own default


def test_in_process_training_never_imports_prefect(churn_csv, tmp_path):
    script = f"""
import sys, tunelab
result = tunelab.train({str(churn_csv)!r}, target="churned", orchestrate=False,
                       data_dir={str(tmp_path)!r}, families=["linear"], **{TINY_SEARCH!r})
assert result.version == 1, result
loaded = sorted(m for m in sys.modules if m == "prefect" or m.startswith(("prefect.", "flows")))
print("LOADED", loaded)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "LOADED []" in done.stdout


def test_same_seed_gives_same_winner_with_parallel_folds(churn_csv, tmp_path):
    options = dict(seed=11, families=["linear", "lightgbm", "knn"], n_jobs=2)
    first = train(config(churn_csv, tmp_path / "a", **options)).result
    second = train(config(churn_csv, tmp_path / "b", **options)).result
    assert first.best_config == second.best_config
    assert first.outer_cv["scores"] == second.outer_cv["scores"]
    assert first.test_score == second.test_score


def test_regression_from_parquet_registers_increasing_versions(diabetes_parquet, tmp_path):
    options = dict(
        data=str(diabetes_parquet),
        target="target",
        name="diabetes",
        families=["linear", "xgboost"],
        data_dir=str(tmp_path),
        **TINY_SEARCH,
    )
    first = train(RunConfig.create(**options)).result
    second = train(RunConfig.create(**{**options, "seed": 1})).result
    assert first.task == "regression" and first.metric == "r2"
    assert (first.version, second.version) == (1, 2)
    assert first.test_score > 0.2


def test_time_budget_bounds_the_callers_wait(churn_csv, tmp_path):
    from tunelab import train as train_call  # imported before the clock: this is the call

    started = time.monotonic()
    result = train_call(
        str(churn_csv),
        target="churned",
        orchestrate=False,
        max_evals=500,
        outer_folds=2,
        inner_folds=2,
        time_budget=6,
        n_jobs=1,
        data_dir=str(tmp_path),
    )
    waited = time.monotonic() - started
    assert waited <= 6 + 3, waited  # the absolute cap; benchmarks/time_budget.py measures
    board = open_store(str(tmp_path)).leaderboard(result.name)
    assert 3 <= len(board) < 3 * 500  # every search ran, none ran to max_evals
    assert (board.groupby("search").size() >= 1).all()


def test_final_search_is_skipped_only_when_one_trial_would_overrun():
    from tunelab.nested_cv import OuterFoldResult, best_outer_configuration, no_time_for_a_trial
    from tunelab.search import TrialRecord

    def fold(number: int, score: float, family: str, seconds: float) -> OuterFoldResult:
        config = {"model": {"family": family}, "feature_selection": {"method": "none"}}
        trial = TrialRecord(f"outer-{number}", 0, family, "ok", 0.7, 0.01, seconds, config)
        return OuterFoldResult(number, score, 0.7, config, 100, 50, [trial])

    folds = [fold(0, 0.80, "linear", 1.0), fold(1, 0.85, "lightgbm", 4.0)]
    assert best_outer_configuration(folds).best_config["model"]["family"] == "lightgbm"
    now = time.time()
    assert no_time_for_a_trial(now + 2.0, folds)  # lightgbm took 4 s on a smaller share
    assert not no_time_for_a_trial(now + 60.0, folds)
    assert not no_time_for_a_trial(None, folds)


@pytest.mark.parametrize(
    ("budget", "group", "holdout"), [(30, False, True), (120, False, False), (30, True, False)]
)
def test_a_table_large_for_its_budget_scores_trials_on_one_holdout(
    tmp_path, budget, group, holdout
):
    """3,200 training rows x 31 columns: more cells than inner CV affords in 30 s, not 120 s."""
    from tunelab.engine import hold_out, make_plan, start, validate
    from tunelab.splits import inner_fold_splits

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(4000, 30)), columns=[f"x{i}" for i in range(30)])
    frame["customer"] = np.arange(4000) % 400
    frame["y"] = (frame["x0"] + rng.normal(size=4000) > 0).astype(int)
    csv = tmp_path / "wide.csv"
    frame.to_csv(csv, index=False)
    extra = {"group_column": "customer"} if group else {}
    settings = RunConfig.create(
        data=str(csv), target="y", data_dir=str(tmp_path), time_budget=budget, **extra
    )
    run = start(settings, LocalRunner(), None)
    prepared = validate(run)
    split = hold_out(run, prepared)
    plan = make_plan(run, prepared, split)
    rows = len(split.X_train)
    assert plan.outer.one_holdout(rows) is holdout and plan.final.one_holdout(rows) is holdout
    assert ("knn" not in plan.families) is holdout
    assert plan.portfolio[0]["model"]["family"] == "lightgbm"
    inner = inner_fold_splits(split.X_train, split.y_train, plan.final)
    assert len(inner) == (1 if holdout else settings.inner_folds)

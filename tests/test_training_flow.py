"""End-to-end training as Prefect flow runs on a real Prefect server with real model fits.

Only what needs Prefect is checked here (task runs per stage, artifacts, Dask, the API's
default flow run); the procedure itself is tested in-process in ``test_engine.py``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.conftest import TINY_SEARCH
from tests.test_parallel import overlap_share
from tunelab.registry import ModelRegistry

STAGES = {
    "load-and-validate",
    "holdout-split",
    "outer-fold-0",
    "outer-fold-1",
    "final-search",
    "refit-and-test",
    "refit-on-all-rows",
    "register-model",
}


def test_nested_cv_reports_one_score_per_outer_fold(trained_churn):
    outer = trained_churn["outer_cv"]
    assert len(outer["scores"]) == TINY_SEARCH["outer_folds"]
    assert outer["mean"] == pytest.approx(np.mean(outer["scores"]))
    assert outer["std"] == pytest.approx(np.std(outer["scores"], ddof=1))
    assert 0.5 < outer["mean"] <= 1.0  # roc_auc of a real signal, better than chance


def test_every_stage_is_a_task_run_in_the_ui(trained_churn, prefect_server):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(name=FlowRunFilterName(like_="churn-"))
        )
        run = next(r for r in runs if r.parameters["data_dir"] == str(trained_churn["data_dir"]))
        tasks = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id={"any_": [run.id]})  # type: ignore[arg-type]
        )
    names = {
        t.name.rsplit("-", 1)[0] if not t.name.startswith("outer-fold") else t.name for t in tasks
    }
    assert names >= STAGES
    assert run.state.is_completed()


def test_registered_artifact_loads_and_predicts_original_labels(trained_churn):
    registry = ModelRegistry(trained_churn["data_dir"] / "registry")
    entry = registry.load("churn", trained_churn["version"])
    frame = pd.read_csv(trained_churn["csv"])
    features = frame.drop(columns=["churned"])
    predictions = entry.model.predict(features)
    assert set(predictions) <= {"yes", "no"}
    assert entry.model.predict_proba(features).shape == (len(frame), 2)
    meta = entry.metadata
    assert meta["metric"] == "roc_auc" and meta["seed"] == 3 and meta["refit_full"] is True
    assert {"scikit-learn", "xgboost", "lightgbm", "hyperopt", "prefect"} <= set(meta["versions"])
    assert set(meta["search_space"]["families"]) == {
        "linear",
        "random_forest",
        "extra_trees",
        "knn",
        "xgboost",
        "lightgbm",
    }
    roles = {c["name"]: c["role"] for c in meta["schema"]["columns"]}
    assert roles["signup_date"] == "datetime" and roles["customer_id"] == "dropped"
    assert roles["city"] == "high_cardinality" and roles["plan"] == "categorical"
    board = registry.leaderboard("churn", entry.version)
    # Without a budget every search evaluates exactly max_evals trials (skips excepted).
    evaluated = board[board["status"] != "skipped"].groupby("search").size().to_dict()
    assert evaluated == {s: TINY_SEARCH["max_evals"] for s in ("outer-0", "outer-1", "final")}
    assert meta["trials"]["total"] == len(board)


def test_prefect_artifacts_are_published(trained_churn, prefect_server):
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        artifacts = {a.key: a for a in client.read_latest_artifacts()}
    assert "churn-summary" in artifacts and "churn-leaderboard" in artifacts
    assert f"{trained_churn['outer_cv']['mean']:.4f}" in artifacts["churn-summary"].data
    assert artifacts["churn-leaderboard"].type == "table"
    plots = artifacts["churn-plots"].data
    for plot in ("history/final", "families", "importance", "confusion", "roc", "pr"):
        assert f"![{plot}](data:image/png;base64," in plots, plot
    assert (trained_churn["data_dir"] / "registry" / "churn" / "v1" / "report.html").is_file()


def test_flow_and_in_process_runs_give_the_same_model(prefect_server, wine_csv, tmp_path):
    import tunelab

    options = dict(target="cultivar", families=["linear", "random_forest"], seed=2, **TINY_SEARCH)
    flow_run = tunelab.train(str(wine_csv), data_dir=str(tmp_path / "a"), **options)
    local = tunelab.train(str(wine_csv), data_dir=str(tmp_path / "b"), orchestrate=False, **options)
    assert flow_run.task == "multiclass" and flow_run.metric == "neg_log_loss"
    assert flow_run.best_config == local.best_config
    assert flow_run.outer_cv["scores"] == local.outer_cv["scores"]
    assert flow_run.test_score == local.test_score > -0.7  # far from the uniform 1.10
    entry = ModelRegistry(tmp_path / "a" / "registry").load(flow_run.name)
    assert list(entry.model.classes_) == ["barbera", "barolo", "grignolino"]


def test_python_api_trains_from_a_dataframe(prefect_server, wine_csv, tmp_path):
    import tunelab

    frame = pd.read_csv(wine_csv)
    result = tunelab.train(
        frame,
        target="cultivar",
        name="wine-df",
        families=["linear"],
        data_dir=str(tmp_path),
        **TINY_SEARCH,
    )
    assert list(tmp_path.glob("inputs/*.parquet"))
    scored = tunelab.predict("wine-df", frame.drop(columns=["cultivar"]), data_dir=str(tmp_path))
    assert (scored["prediction"] == frame["cultivar"]).mean() > 0.8
    assert result["version"] == 1


def test_first_run_on_a_fresh_machine_with_dask_and_no_server(churn_csv, tmp_path):
    """A newcomer's first command: fresh Prefect home, no PREFECT_API_URL, Dask outer folds.

    The embedded server must create its database and start (Prefect's own 20 s wait is too
    short for that on a loaded machine), and the Dask workers must report to it. The result
    must equal the same run in threads without Prefect.
    """
    import os
    import subprocess
    import sys

    import tunelab

    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    env["PREFECT_HOME"] = str(tmp_path / "fresh-prefect-home")
    options = ["--seed", "4", "--families", "linear,knn", "--max-evals", "3"]
    options += ["--outer-folds", "2", "--inner-folds", "2", "--n-jobs", "2"]
    command = [sys.executable, "-m", "tunelab.cli", "run", "--data", str(churn_csv)]
    command += ["--target", "churned", "--data-dir", str(tmp_path / "dask"), *options]
    done = subprocess.run(
        [*command, "--dask", "local"], env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    assert "The Dask dashboard is available at" in done.stdout + done.stderr
    assert (tmp_path / "fresh-prefect-home" / "prefect.db").exists()
    # The final search's trials ran on the cluster's two workers at once.
    (board,) = (tmp_path / "dask").rglob("leaderboard.csv")
    assert overlap_share(pd.read_csv(board)) >= 0.3
    threads = tunelab.train(
        str(churn_csv),
        target="churned",
        orchestrate=False,
        seed=4,
        families=["linear", "knn"],
        data_dir=str(tmp_path / "threads"),
        **{**TINY_SEARCH, "n_jobs": 2},
    )
    folds = ", ".join(f"{s:.4f}" for s in threads.outer_cv["scores"])
    assert f"(folds: {folds})" in done.stdout
    assert f"held-out test: {threads.test_score:.4f}" in done.stdout

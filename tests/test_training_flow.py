"""End-to-end training runs on a real Prefect server with real model fits."""

from __future__ import annotations

import pandas as pd
import pytest
from sklearn.metrics import get_scorer

from tests.conftest import TINY_SEARCH
from tunelab.registry import ModelRegistry


def test_nested_cv_reports_one_score_per_outer_fold(trained_churn):
    outer = trained_churn["outer_cv"]
    assert len(outer["scores"]) == TINY_SEARCH["outer_folds"]
    assert outer["min"] <= outer["mean"] <= outer["max"]
    assert 0.5 < outer["mean"] <= 1.0  # roc_auc of a real signal, better than chance


def test_registered_artifact_loads_and_predicts_original_labels(trained_churn):
    registry = ModelRegistry(trained_churn["data_dir"] / "registry")
    entry = registry.load("churn", trained_churn["version"])
    frame = pd.read_csv(trained_churn["csv"])
    features = frame.drop(columns=["churned"])
    predictions = entry.model.predict(features)
    assert set(predictions) <= {"yes", "no"}
    assert entry.model.predict_proba(features).shape == (len(frame), 2)
    meta = entry.metadata
    assert meta["metric"] == "roc_auc" and meta["seed"] == 3
    assert {"scikit-learn", "xgboost", "lightgbm", "hyperopt", "prefect"} <= set(meta["versions"])
    assert set(meta["search_space"]["families"]) == {
        "linear",
        "random_forest",
        "extra_trees",
        "knn",
        "xgboost",
        "lightgbm",
    }
    assert meta["schema"]["target"] == "churned"
    roles = {c["name"]: c["role"] for c in meta["schema"]["columns"]}
    assert roles["signup_date"] == "datetime" and roles["customer_id"] == "dropped"
    assert roles["city"] == "high_cardinality" and roles["plan"] == "categorical"
    leaderboard = entry.leaderboard()
    assert set(leaderboard["search"]) == {"outer-0", "outer-1", "final"}
    assert len(leaderboard) == meta["trials"]["total"] >= 3 * TINY_SEARCH["max_evals"]


def test_test_score_uses_only_rows_never_seen_by_the_search(trained_churn):
    test_rows, search_rows = set(trained_churn["test_rows"]), set(trained_churn["search_rows"])
    assert test_rows and search_rows
    assert not test_rows & search_rows
    assert search_rows == set(trained_churn["train_rows"])
    # Recompute the reported test score from the registered model on exactly those rows.
    entry = ModelRegistry(trained_churn["data_dir"] / "registry").load("churn")
    frame = pd.read_csv(trained_churn["csv"]).loc[trained_churn["test_rows"]]
    score = get_scorer("roc_auc")(entry.model, frame.drop(columns=["churned"]), frame["churned"])
    assert score == pytest.approx(trained_churn["test_score"])


def test_prefect_artifacts_are_published(trained_churn, prefect_server):
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        artifacts = {a.key: a for a in client.read_latest_artifacts()}
    assert "churn-summary" in artifacts and "churn-leaderboard" in artifacts
    assert "nested CV" in artifacts["churn-summary"].data
    assert artifacts["churn-leaderboard"].type == "table"


def test_same_seed_gives_same_winner(prefect_server, churn_csv, tmp_path):
    from flows.training import train_flow

    # Two cores: outer folds run in parallel threads, and must still be reproducible.
    options = dict(
        data=str(churn_csv),
        target="churned",
        seed=11,
        families=["linear", "lightgbm", "knn"],
        **{**TINY_SEARCH, "n_jobs": 2},
    )
    first = train_flow(**options, data_dir=str(tmp_path / "a"))
    second = train_flow(**options, data_dir=str(tmp_path / "b"))
    assert first["best_config"] == second["best_config"]
    assert first["outer_cv"]["scores"] == second["outer_cv"]["scores"]
    assert first["test_score"] == second["test_score"]


def test_multiclass_run_on_text_labels(prefect_server, wine_csv, tmp_path):
    from flows.training import train_flow

    result = train_flow(
        data=str(wine_csv),
        target="cultivar",
        families=["linear", "random_forest"],
        data_dir=str(tmp_path),
        **TINY_SEARCH,
    )
    assert result["task"] == "multiclass" and result["metric"] == "neg_log_loss"
    entry = ModelRegistry(tmp_path / "registry").load(result["name"])
    assert list(entry.model.classes_) == ["barbera", "barolo", "grignolino"]
    assert result["test_score"] > -0.7  # log loss of a real fit, far from the uniform 1.10


def test_regression_run_from_parquet_with_versions(prefect_server, diabetes_parquet, tmp_path):
    from flows.training import train_flow

    options = dict(
        data=str(diabetes_parquet),
        target="target",
        name="diabetes",
        families=["linear", "xgboost"],
        data_dir=str(tmp_path),
        **TINY_SEARCH,
    )
    first = train_flow(**options)
    second = train_flow(**options, seed=1)
    assert first["task"] == "regression" and first["metric"] == "r2"
    assert (first["version"], second["version"]) == (1, 2)
    assert first["test_score"] > 0.2


def test_time_budget_stops_early_and_still_registers(prefect_server, churn_csv, tmp_path):
    from flows.training import train_flow

    result = train_flow(
        data=str(churn_csv),
        target="churned",
        max_evals=500,
        outer_folds=2,
        inner_folds=2,
        time_budget=8,
        families=["linear", "knn"],
        n_jobs=1,
        data_dir=str(tmp_path),
    )
    entry = ModelRegistry(tmp_path / "registry").load(result["name"])
    total = entry.metadata["trials"]["total"]
    assert 3 <= total < 3 * 500
    assert entry.metadata["elapsed_seconds"] < 60


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


def test_outer_folds_on_a_dask_cluster_match_threads(prefect_server, churn_csv, tmp_path):
    from flows.training import train_flow

    options = dict(
        data=str(churn_csv),
        target="churned",
        seed=4,
        families=["linear", "knn"],
        **{**TINY_SEARCH, "n_jobs": 2},
    )
    threads = train_flow(**options, data_dir=str(tmp_path / "threads"))
    dask = train_flow(**options, data_dir=str(tmp_path / "dask"), dask_address="local")
    assert dask["outer_cv"]["scores"] == threads["outer_cv"]["scores"]
    assert dask["best_config"] == threads["best_config"]
    assert len(list((tmp_path / "dask" / "runs").glob("*/outer-*.result.json"))) == 2

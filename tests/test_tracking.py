"""MLflow tracking against a real ``mlflow server`` (SQLite backend, artifacts in tmp)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.report_inputs import make_inputs
from tests.servers import free_port, mlflow_server
from tunelab.errors import RegistryError, TrackingError
from tunelab.tracking import experiment_name, log_run, set_alias, tracking_uri_from


def test_tracking_uri_from(monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert tracking_uri_from(None) is None
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://env:5000")
    assert tracking_uri_from(None) == "http://env:5000"
    assert tracking_uri_from("http://option:5000") == "http://option:5000"


def test_importing_tunelab_tracking_does_not_import_mlflow():
    code = "import sys, tunelab.tracking, tunelab.report; print('mlflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with mlflow_server(tmp_path_factory.mktemp("mlflow")) as uri:
        yield uri


def test_run_is_logged_and_model_registered_with_alias(server, tmp_path):
    import mlflow

    inputs = make_inputs("binary", trials_per_search=3)
    html = "<html><body>report</body></html>"
    run_id = log_run(
        server,
        name="churn",
        version=3,
        card=inputs.card,
        trials=inputs.trials,
        model=inputs.model,
        report_html=html,
    )
    client = mlflow.MlflowClient(tracking_uri=server, registry_uri=server)
    run = client.get_run(run_id)
    assert client.get_experiment(run.info.experiment_id).name == experiment_name("churn")
    assert run.data.params["metric"] == "roc_auc"
    assert run.data.params["outer_folds"] == "2"
    assert run.data.params["best.model.family"] == inputs.card["best"]["family"]
    assert run.data.metrics["test_score"] == pytest.approx(inputs.card["metrics"]["test_score"])
    assert run.data.metrics["outer_cv_mean"] == pytest.approx(
        inputs.card["metrics"]["outer_cv"]["mean"]
    )
    assert len(client.get_metric_history(run_id, "outer_fold_score")) == 2
    assert run.data.tags["tunelab.version"] == "3"

    artifacts = {a.path for a in client.list_artifacts(run_id)}
    assert {"trials.json", "report.html", "model_card.json"} <= artifacts
    table = json.loads(
        Path(client.download_artifacts(run_id, "trials.json", str(tmp_path))).read_text()
    )
    assert len(table["data"]) == len(inputs.trials)
    assert {"started_at", "finished_at"} <= set(table["columns"])
    report = Path(client.download_artifacts(run_id, "report.html", str(tmp_path)))
    assert report.read_text() == html

    (version,) = client.search_model_versions("name = 'churn'")
    assert version.tags["tunelab_version"] == "3" and version.run_id == run_id
    assert set_alias(server, "churn", "production", 3) == version.version
    assert client.get_model_version_by_alias("churn", "production").version == version.version
    with pytest.raises(RegistryError, match="tunelab version 9"):
        set_alias(server, "churn", "production", 9)

    mlflow.set_tracking_uri(server)
    try:
        loaded = mlflow.sklearn.load_model("models:/churn@production")
    finally:
        mlflow.set_tracking_uri("")
    X = inputs.X_test
    np.testing.assert_array_equal(loaded.predict(X), inputs.model.predict(X))
    np.testing.assert_allclose(loaded.predict_proba(X), inputs.model.predict_proba(X))


def test_a_training_run_with_mlflow_on_and_promote_sets_the_alias_there(
    server, churn_csv, tmp_path, capsys
):
    """As a user runs it: `--mlflow URI` on a run, then `models promote --mlflow URI`."""
    import mlflow

    from tunelab.cli import main

    data_dir = str(tmp_path / "home")
    options = ["--max-evals", "2", "--outer-folds", "2", "--inner-folds", "2", "--n-jobs", "1"]
    options += ["--families", "linear", "--data-dir", data_dir, "--mlflow", server]
    command = ["run", "--data", str(churn_csv), "--target", "churned", "--name", "tracked"]
    assert main([*command, *options, "--no-prefect"]) == 0
    client = mlflow.MlflowClient(tracking_uri=server, registry_uri=server)
    [version] = client.search_model_versions("name='tracked'")
    assert version.tags["tunelab_version"] == "1"
    run = client.get_run(version.run_id)
    assert run.data.params["metric"] == "roc_auc" and "test_score" in run.data.metrics
    artifacts = {a.path for a in client.list_artifacts(version.run_id)}
    assert "report.html" in artifacts

    promote = ["models", "promote", "tracked", "1", "--alias", "production"]
    assert main([*promote, "--data-dir", data_dir, "--mlflow", server]) == 0
    assert "MLflow tracked: production -> version" in capsys.readouterr().out
    assert client.get_model_version_by_alias("tracked", "production").version == version.version


def test_the_promote_flow_moves_the_mlflow_alias_like_the_cli(server, tmp_path, prefect_server):
    """The flow and the CLI call the same promote: local alias and MLflow alias together."""
    import mlflow

    from tests.hostile_support import register_tiny_model
    from tunelab.flows.registry_view import promote_flow
    from tunelab.registry import ModelRegistry

    registry = ModelRegistry(tmp_path / "registry")
    register_tiny_model(registry, name="flowed")
    inputs = make_inputs("binary", trials_per_search=2)
    log_run(server, name="flowed", version=1, card=inputs.card, trials=[], model=inputs.model)
    assert promote_flow("flowed", "1", alias="staging", data_dir=str(tmp_path), mlflow=server) == 1
    assert registry.aliases("flowed") == {"staging": 1}
    client = mlflow.MlflowClient(tracking_uri=server, registry_uri=server)
    assert client.get_model_version_by_alias("flowed", "staging").tags["tunelab_version"] == "1"


def test_an_unreachable_tracking_server_is_one_masked_error():
    inputs = make_inputs("binary", trials_per_search=2)
    uri = f"http://alice:s3cret-pw@127.0.0.1:{free_port()}"
    with pytest.raises(TrackingError) as error:
        log_run(uri, name="m", version=1, card=inputs.card, trials=[], model=inputs.model)
    message = str(error.value)
    assert "s3cret-pw" not in message and "alice:***@127.0.0.1" in message
    assert len(message.splitlines()) == 1

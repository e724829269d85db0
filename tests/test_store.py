"""The store interface holds: the same contract on the file registry, fsspec's memory
filesystem and an S3 bucket (moto's real S3 server), and the CLI works on a URL store."""

from __future__ import annotations

import json
import typing
import uuid
from pathlib import Path

import pytest

import tunelab.store as store_module
from tests.hostile_support import register_tiny_model, training_frame
from tests.servers import s3_server
from tunelab.cli import main
from tunelab.errors import RegistryCorruptError, RegistryError
from tunelab.registry import ModelRegistry
from tunelab.store import ModelStore, RegisteredModel, open_store


@pytest.fixture(scope="module")
def s3_bucket():
    pytest.importorskip("s3fs", reason="s3fs is not installed (pip install tunelab[s3])")
    with s3_server() as endpoint, pytest.MonkeyPatch.context() as env:
        for key, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": endpoint,
        }.items():
            env.setenv(key, value)  # fmt: skip
        import boto3
        import s3fs

        # fsspec caches filesystems by their arguments, not by AWS_ENDPOINT_URL: an earlier
        # module's S3 filesystem would still point at that module's (stopped) server.
        s3fs.S3FileSystem.clear_instance_cache()
        boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="models")
        yield "s3://models"
        s3fs.S3FileSystem.clear_instance_cache()


@pytest.fixture(params=["file", "memory", "s3"])
def store(request, tmp_path) -> ModelStore:
    unique = uuid.uuid4().hex[:8]
    if request.param == "file":
        return ModelRegistry(tmp_path / "registry")
    if request.param == "memory":
        return open_store(url=f"memory://tunelab-{unique}")
    return open_store(url=f"{request.getfixturevalue('s3_bucket')}/{unique}")


def test_the_interface_speaks_no_paths():
    for method in vars(ModelStore):
        if method.startswith("_") or not callable(getattr(ModelStore, method)):
            continue
        import pandas as pd

        hints = typing.get_type_hints(getattr(ModelStore, method), {"pd": pd, **vars(store_module)})
        assert "Path" not in str(hints), (method, hints)
    hints = typing.get_type_hints(RegisteredModel)
    assert "Path" not in str(hints) and hints["location"] is str


def test_every_store_keeps_the_same_contract(store):
    register_tiny_model(store)
    register_tiny_model(store)
    assert store.names() == ["m"] and store.versions("m") == [1, 2]
    entry = store.load("m")
    rows = training_frame(10, seed=1).drop(columns="label")
    assert entry.version == 2 and set(entry.model.predict(rows)) <= {"yes", "no"}
    assert store.metadata("m", 1).metadata["task"] == "binary"
    assert store.set_alias("m", "production", 1) == 1
    assert store.aliases("m") == {"production": 1}
    assert store.resolve_version("m", "production") == 1
    assert list(store.leaderboard("m", 1).columns) == ["trial"]
    store.attach("m", 1, "report.html", b"<html>report</html>")
    assert store.attachment("m", 1, "report.html") == b"<html>report</html>"
    assert store.report_url("m", 1).endswith("/m/v1/report.html")
    with pytest.raises(RegistryError, match="no report.html"):
        store.report_url("m", 2)
    summary = store.summary()
    assert summary["version"].tolist() == [1, 2]
    assert summary["aliases"].tolist() == ["production", ""]


def test_every_store_refuses_a_tampered_model_and_a_retyped_card(store):
    register_tiny_model(store)
    register_tiny_model(store)
    store.write_file("m", 1, "model.skops", b"PK\x03\x04 tampered")  # type: ignore[attr-defined]
    with pytest.raises(RegistryError, match="Integrity check failed"):
        store.load("m", 1)
    card = json.loads(store.attachment("m", 2, "metadata.json"))
    store.write_file("m", 2, "metadata.json", json.dumps({**card, "task": 7}).encode())  # type: ignore[attr-defined]
    with pytest.raises(RegistryCorruptError, match="task: "):
        store.load("m", 2)
    assert "task: " in store.summary().set_index("version").loc[2, "problem"]


def test_the_cli_uses_a_url_store(tmp_path, capsys, monkeypatch):
    url = f"file://{tmp_path / 'store'}"
    register_tiny_model(open_store(url=url))
    assert main(["models", "promote", "m", "1", "--alias", "prod", "--store", url]) == 0
    assert main(["models", "list", "--store", url]) == 0
    assert "prod" in capsys.readouterr().out
    monkeypatch.setenv("TUNELAB_STORE", url)  # the variable selects it as well
    assert main(["models", "show", "m", "--version", "prod"]) == 0
    assert json.loads(capsys.readouterr().out)["version"] == 1
    open_store(url=url).attach("m", 1, "report.html", b"<html></html>")
    assert main(["report", "m", "--version", "prod"]) == 0
    assert capsys.readouterr().out.strip() == f"{url}/m/v1/report.html"
    assert not (Path.cwd() / "tunelab-data" / "registry" / "m").exists()


def test_a_store_that_is_not_a_url_is_one_error(capsys):
    assert main(["models", "list", "--store", "just-a-folder"]) == 2
    assert "error: Invalid store 'just-a-folder'" in capsys.readouterr().err

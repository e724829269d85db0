"""One promote for the CLI, the flow and MLflow: concurrent, all-or-reported, no secrets shown.

Every case runs the real CLI in real processes (``python -m tunelab.cli``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.hostile_support import register_tiny_model, snapshot
from tests.servers import free_port
from tunelab.registry import ModelRegistry
from tunelab.store import open_store

ALIASES = [f"a{i}" for i in range(10)]


def _start_promote(alias: str, *store: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tunelab.cli", "models", "promote", "m", "1", "--alias", alias,
         *store],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"},
    )  # fmt: skip


def _promote_all_at_once(*store: str) -> None:
    processes = [_start_promote(alias, *store) for alias in ALIASES]
    for process in processes:
        out, err = process.communicate(timeout=180)
        assert process.returncode == 0, err[-2000:]
        assert "-> v1" in out


@pytest.fixture
def registry_root(tmp_path) -> Path:
    root = tmp_path / "home" / "registry"
    register_tiny_model(root)
    return root


def test_ten_concurrent_promotes_keep_every_alias(registry_root):
    _promote_all_at_once("--data-dir", str(registry_root.parent))
    assert ModelRegistry(registry_root).aliases("m") == dict.fromkeys(ALIASES, 1)


def test_ten_concurrent_promotes_keep_every_alias_in_a_url_store(tmp_path):
    url = f"file://{tmp_path / 'store'}"
    register_tiny_model(open_store(url=url))
    _promote_all_at_once("--store", url)
    assert open_store(url=url).aliases("m") == dict.fromkeys(ALIASES, 1)


def test_promote_to_an_unreachable_mlflow_moves_nothing_and_shows_no_password(registry_root):
    before = snapshot(registry_root)
    uri = f"http://alice:s3cret-pw@127.0.0.1:{free_port()}"
    result = subprocess.run(
        [sys.executable, "-m", "tunelab.cli", "models", "promote", "m", "1", "--alias", "prod",
         "--data-dir", str(registry_root.parent), "--mlflow", uri],
        capture_output=True,
        text=True,
        timeout=180,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr[-2000:]
    lines = result.stderr.strip().splitlines()
    assert "Traceback" not in result.stderr
    assert "s3cret-pw" not in result.stderr + result.stdout
    assert lines[-1].startswith("error: MLflow at http://alice:***@127.0.0.1:")
    assert snapshot(registry_root) == before  # the local alias did not move either
    assert "prod" not in ModelRegistry(registry_root).aliases("m")

"""A local Prefect server outlives one call, is reused by the next, and ends itself when idle."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tunelab.flows.local_server import _is_server, state_dir, stop_shared_server

APP_DIR = str(Path(__file__).resolve().parent.parent)
IDLE = 4.0
API_CALL = """
import os, sys, tunelab
tunelab.train(sys.argv[1], target="churned", data_dir=sys.argv[2], families=["linear"],
              max_evals=2, outer_folds=2, inner_folds=2, report=False)
print("api url:", os.environ["PREFECT_API_URL"])
"""


@pytest.fixture
def shared_env(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    env.update(PREFECT_HOME=str(tmp_path / "prefect-home"), TUNELAB_PREFECT_IDLE_SECONDS=str(IDLE))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [APP_DIR, env.get("PYTHONPATH")]))
    yield env
    stop_shared_server(APP_DIR, env)  # whatever the test did, nothing stays running


def wait_for(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return condition()


def test_second_call_reuses_the_server_and_it_ends_once_idle(shared_env, churn_csv, tmp_path):
    cli = [sys.executable, "-m", "tunelab.cli", "run", "--data", str(churn_csv)]
    cli += ["--target", "churned", "--families", "linear", "--max-evals", "2", "--no-report"]
    cli += ["--outer-folds", "2", "--inner-folds", "2", "--data-dir", str(tmp_path / "cli")]
    first = subprocess.run(cli, env=shared_env, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr[-2000:]
    directory = state_dir(APP_DIR, shared_env)
    state = json.loads((directory / "server.json").read_text())
    assert _is_server(state["pid"])  # the CLI process ended; its server did not

    second = subprocess.run(
        [sys.executable, "-c", API_CALL, str(churn_csv), str(tmp_path / "api")],
        env=shared_env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert second.returncode == 0, second.stderr[-2000:]
    assert f"api url: {state['url']}" in second.stdout  # tunelab.train used the same server
    assert json.loads((directory / "server.json").read_text())["pid"] == state["pid"]

    lease = directory / "clients" / str(os.getpid())  # a live call is using it
    lease.touch()
    time.sleep(IDLE + 3)
    assert _is_server(state["pid"])
    lease.unlink()
    assert wait_for(lambda: not _is_server(state["pid"]), IDLE + 20)
    assert not (directory / "server.json").exists()


def test_a_bad_idle_setting_is_one_clear_error(churn_csv, tmp_path):
    env = {**os.environ, "TUNELAB_PREFECT_IDLE_SECONDS": "ten"}
    env = {k: v for k, v in env.items() if not k.startswith("PREFECT_API")}
    done = subprocess.run(
        [sys.executable, "-m", "tunelab.cli", "run", "--data", str(churn_csv), "--target",
         "churned", "--data-dir", str(tmp_path)],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: TUNELAB_PREFECT_IDLE_SECONDS must be a number of seconds >= 0 (0: a Prefect "
        "server per call), not 'ten'"
    ]
    assert not (tmp_path / "registry").exists()


def test_a_prefect_profile_naming_a_server_is_used_instead(tmp_path):
    """A user whose active profile points at a server (e.g. Prefect Cloud) gets no local one."""
    (tmp_path / "profiles.toml").write_text(
        'active = "team"\n[profiles.team]\nPREFECT_API_URL = "http://127.0.0.1:9/api"\n'
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    env.update(PREFECT_HOME=str(tmp_path), TUNELAB_PREFECT_IDLE_SECONDS=str(IDLE))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [APP_DIR, env.get("PYTHONPATH")]))
    code = (
        "import os; from flows.prefect_setup import start_server_early, current_server_url; "
        "start_server_early(); print(repr(current_server_url()), 'PREFECT_API_URL' in os.environ)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.stdout.split() == ["''", "False"], done.stderr
    assert not (tmp_path / "tunelab-server").exists()


def test_a_first_start_under_a_short_budget_does_not_wait_for_the_database(
    shared_env, churn_csv, tmp_path
):
    """Creating Prefect's database takes 15-25 s on 2 cores; a run with a 5 s budget waits
    at most a fifth of it for a server doing so, then runs without Prefect and registers its
    model, and the shared server goes on (finishing the database for the next call)."""
    data_dir = tmp_path / "cli"
    cli = [sys.executable, "-m", "tunelab.cli", "run", "--data", str(churn_csv)]
    cli += ["--target", "churned", "--families", "linear", "--time-budget", "5", "--no-report"]
    cli += ["--data-dir", str(data_dir)]
    assert not (Path(shared_env["PREFECT_HOME"]) / "prefect.db").exists()
    done = subprocess.run(cli, env=shared_env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "creating its database" in done.stderr
    assert "goes on without Prefect to keep its 5 s budget" in done.stderr
    assert "Beginning flow run" not in done.stderr  # no flow run was created
    assert (data_dir / "registry" / "churn-churned" / "v1" / "model.skops").is_file()
    state = json.loads((state_dir(APP_DIR, shared_env) / "server.json").read_text())
    assert _is_server(state["pid"])

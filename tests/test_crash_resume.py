"""A run killed with SIGKILL mid-search resumes with the same run id and redoes nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from tunelab.registry import ModelRegistry
from tunelab.search import load_trials, record_from_trial


def run_command(csv, data_dir, name: str, run_id: str, *, max_evals: int, n_jobs: int) -> list:
    """``tunelab run`` on two outer and two inner folds, as a user types it."""
    return [
        sys.executable, "-m", "tunelab.cli", "run", "--data", str(csv), "--target", "churned",
        "--name", name, "--run-id", run_id, "--data-dir", str(data_dir),
        "--max-evals", str(max_evals), "--outer-folds", "2", "--inner-folds", "2",
        "--n-jobs", str(n_jobs),
    ]  # fmt: skip


def finished_trials(checkpoint: Path) -> list:
    try:
        return [record_from_trial("outer-0", t) for t in load_trials(checkpoint).trials]
    except (OSError, EOFError):
        return []


def test_sigkill_mid_search_then_resume(prefect_server, churn_csv, tmp_path):
    command = run_command(churn_csv, tmp_path, "crashy", "crash-test", max_evals=6, n_jobs=1)
    command += ["--families", "random_forest,extra_trees"]
    env = {**os.environ, "PREFECT_API_URL": prefect_server}
    checkpoint = tmp_path / "runs" / "crash-test" / "outer-0.trials.json"

    victim = subprocess.Popen(
        command,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 180
    while len(finished_trials(checkpoint)) < 2:
        assert victim.poll() is None, "run finished before it could be killed"
        assert time.monotonic() < deadline, "no trial was checkpointed in time"
        time.sleep(0.1)
    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait()
    survived = finished_trials(checkpoint)
    assert 2 <= len(survived) < 6
    assert not (tmp_path / "registry" / "crashy").exists()

    resumed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    log = resumed.stdout + resumed.stderr
    assert "[outer-0] trial 1/6" not in log  # finished trials are not run again...
    assert f"[outer-0] trial {len(survived) + 1}/6" in log  # ...the search picks up after them

    entry = ModelRegistry(tmp_path / "registry").load("crashy")
    board = ModelRegistry(tmp_path / "registry").leaderboard("crashy", entry.version)
    outer0 = board[board["search"] == "outer-0"].sort_values("number")
    assert len(outer0) == 6
    kept = outer0.head(len(survived))
    # Identical scores *and* timings: these rows are the checkpointed trials, not re-fits.
    assert kept["fit_seconds"].tolist() == [t.fit_seconds for t in survived]
    assert kept["score"].tolist() == [t.score for t in survived]
    predictions = entry.model.predict(pd.read_csv(churn_csv).drop(columns=["churned"]).head(3))
    assert len(predictions) == 3 and set(predictions) <= {"yes", "no"}


def test_ctrl_c_stops_within_a_fold_keeps_the_checkpoint_and_exits_130(churn_csv, tmp_path):
    command = run_command(churn_csv, tmp_path, "stopped", "ctrl-c", max_evals=400, n_jobs=2)
    command += ["--families", "linear,knn", "--no-prefect"]
    checkpoint = tmp_path / "runs" / "ctrl-c" / "outer-0.trials.json"
    victim = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while len(finished_trials(checkpoint)) < 3:
        assert victim.poll() is None, "run finished before it could be interrupted"
        assert time.monotonic() < deadline, "no trial was checkpointed in time"
        time.sleep(0.1)
    victim.send_signal(signal.SIGINT)
    sent = time.monotonic()
    _, stderr = victim.communicate(timeout=60)
    assert victim.returncode == 130
    assert time.monotonic() - sent < 10  # within a fold fit, not after the search
    last_line = stderr.strip().splitlines()[-1]
    assert last_line == "interrupted: finished trials are checkpointed; resume with --run-id ctrl-c"
    assert "Traceback" not in stderr
    kept = finished_trials(checkpoint)
    assert 3 <= len(kept) < 400
    assert not (tmp_path / "registry" / "stopped").exists()

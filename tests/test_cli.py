"""The command line as a user meets it: one-line errors, registry commands, a real run."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def tunelab(
    *args: str, env: dict | None = None, timeout: float = 300
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tunelab.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


@pytest.mark.parametrize(
    "args, message",
    [
        (["run", "--data", "missing.csv", "--target", "y"], "Data file not found: 'missing.csv'"),
        (["run", "--data", "{example}", "--target", "churn"], "did you mean 'churned'"),
        (["run", "--data", "{example}", "--target", "churned", "--metric", "r2"], "not available"),
        (["predict", "--model", "nobody", "--data", "{example}"], "No registered model named"),
    ],
)
def test_bad_input_prints_one_clear_line_and_no_traceback(args, message, tmp_path, prefect_server):
    from tunelab.example import example_data_path

    args = [a.replace("{example}", str(example_data_path())) for a in args]
    result = tunelab(*args, "--data-dir", str(tmp_path), env={"PREFECT_API_URL": prefect_server})
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_models_list_show_and_promote(trained_churn):
    data_dir = str(trained_churn["data_dir"])
    promoted = tunelab(
        "models", "promote", "churn", "1", "--alias", "production", "--data-dir", data_dir
    )
    assert promoted.returncode == 0 and "production -> v1" in promoted.stdout
    listing = tunelab("models", "list", "--data-dir", data_dir)
    assert listing.returncode == 0
    assert (
        "churn" in listing.stdout and "production" in listing.stdout and "roc_auc" in listing.stdout
    )
    shown = tunelab("models", "show", "churn", "--version", "production", "--data-dir", data_dir)
    assert '"model_sha256"' in shown.stdout and '"outer_cv"' in shown.stdout

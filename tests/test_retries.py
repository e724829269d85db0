"""Prefect retries: transient I/O faults are retried, bad input is not."""

from __future__ import annotations

import pandas as pd
import pytest
from prefect import flow

import tunelab.data
from tunelab.config import RunConfig
from tunelab.errors import DataValidationError
from tunelab.flows.prefect_runner import PrefectRunner
from tunelab.stages import load_and_validate


@pytest.fixture
def read_calls(monkeypatch):
    """Counts reads, and makes the first one fail like a stale network-share handle."""
    calls = []
    real_read_csv = pd.read_csv

    def flaky_read_csv(path, *args, **kwargs):
        calls.append(path)
        if len(calls) == 1:
            raise OSError(116, "Stale file handle")
        return real_read_csv(path, *args, **kwargs)

    monkeypatch.setattr(tunelab.data.pd, "read_csv", flaky_read_csv)
    return calls


@flow
def validate_only(data: str, target: str) -> int:
    """The training flow's first stage, with the retry policy the Prefect runner gives it."""
    config = RunConfig.create(data=data, target=target)
    prepared = PrefectRunner().stage("load-and-validate", load_and_validate, config=config)
    return len(prepared.features)


def test_transient_read_error_is_retried(prefect_server, churn_csv, read_calls):
    assert validate_only(str(churn_csv), "churned") == 300
    assert len(read_calls) == 2


def test_bad_input_is_not_retried(prefect_server, churn_csv, read_calls):
    read_calls.append("the transient fault is used up")
    with pytest.raises(DataValidationError, match="Target column 'nope' not found"):
        validate_only(str(churn_csv), "nope")
    assert len(read_calls) == 2  # the one real read; no retry of a hopeless input


@pytest.mark.parametrize("kind", ["MemoryError", "ArrowMemoryError", "OutOfMemoryError"])
def test_running_out_of_memory_is_not_retried(prefect_server, kind):
    import pyarrow as pa
    from prefect import task

    from tunelab.errors import OutOfMemoryError
    from tunelab.flows.retries import retry_unless_user_error

    errors = {
        "MemoryError": MemoryError("Unable to allocate 8.00 GiB"),
        "ArrowMemoryError": pa.ArrowMemoryError("malloc of size 1073741824 failed"),
        "OutOfMemoryError": OutOfMemoryError("Ran out of memory reading 'big.csv'"),
    }
    attempts = []

    @task(retries=2, retry_delay_seconds=0, retry_condition_fn=retry_unless_user_error)
    def hungry() -> None:
        attempts.append(1)
        raise errors[kind]

    @flow
    def run_hungry() -> None:
        hungry()

    with pytest.raises(MemoryError):
        run_hungry()
    assert len(attempts) == 1

"""Shared fixtures: one real Prefect test server per session and small real datasets."""

from __future__ import annotations

import os

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
# A Prefect server per call, stopped when it ends: no test leaves a shared server running
# (tests/test_local_server.py turns sharing on for itself, in its own Prefect home).
os.environ.setdefault("TUNELAB_PREFECT_IDLE_SECONDS", "0")

from collections.abc import Iterator  # noqa: E402
from pathlib import Path  # noqa: E402

import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from sklearn.datasets import load_diabetes, load_wine  # noqa: E402

from tunelab.example import example_data_path  # noqa: E402

#: Small enough for CI, big enough that every stage does real work.
TINY_SEARCH = {"max_evals": 3, "outer_folds": 2, "inner_folds": 2, "n_jobs": 1}


@pytest.fixture(autouse=True)
def no_server_outlives_its_test() -> Iterator[None]:
    """The CLI's ``main`` run in-process starts Prefect's server early and points this
    process at it; each test gets its own, stopped after it."""
    yield
    from tunelab.flows.prefect_setup import stop_early_server

    stop_early_server()


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[str]:
    """A real Prefect API (temporary SQLite database) for every flow run in the session."""
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield PREFECT_API_URL.value()


@pytest.fixture(scope="session")
def churn_csv(tmp_path_factory) -> Path:
    """300 rows of the bundled example: numbers with gaps, text, dates, an identifier."""
    frame = pd.read_csv(example_data_path()).head(300)
    path = tmp_path_factory.mktemp("data") / "churn.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def wine_csv(tmp_path_factory) -> Path:
    data = load_wine(as_frame=True)
    frame = data.frame.rename(columns={"target": "cultivar"})
    frame["cultivar"] = frame["cultivar"].map({0: "barolo", 1: "grignolino", 2: "barbera"})
    path = tmp_path_factory.mktemp("data") / "wine.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def diabetes_parquet(tmp_path_factory) -> Path:
    frame = load_diabetes(as_frame=True).frame.head(200)
    path = tmp_path_factory.mktemp("data") / "diabetes.parquet"
    frame.to_parquet(path)
    return path


@pytest.fixture(scope="session")
def trained_churn(prefect_server, churn_csv, tmp_path_factory) -> dict:
    """One full binary run as a Prefect flow run, shared by the tests that inspect its outputs."""
    import tunelab

    data_dir = tmp_path_factory.mktemp("tunelab-home")
    result = tunelab.train(
        str(churn_csv),
        target="churned",
        name="churn",
        seed=3,
        data_dir=str(data_dir),
        **TINY_SEARCH,
    )
    return {**result.to_dict(), "data_dir": data_dir, "csv": churn_csv}

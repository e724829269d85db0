"""The retraining loop: champion against challenger, warm start, data drift (real fits).

The contrast between versions is built into the data, not left to search luck: the target of
the first table is an XOR of two features (trees learn it, a linear model cannot), the target
of the later table is a third feature's sign (a linear model learns it, the XOR champion has
never seen it), so every decision below is far from its threshold.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import tunelab
from tests.conftest import TINY_SEARCH
from tunelab.cli import main
from tunelab.drift import compare_with_profile, profile_frame
from tunelab.store import open_store
from tunelab.warm_start import warm_starting_points

FEATURES = ["a", "b", "c", "d"]


def features(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(rows, len(FEATURES))), columns=FEATURES)
    frame["colour"] = rng.choice(["red", "green", "blue"], size=rows)
    return frame


def xor_table(rows: int = 300, seed: int = 0) -> pd.DataFrame:
    frame = features(rows, seed)
    frame["y"] = np.where(frame["a"] * frame["b"] > 0, "yes", "no")
    return frame


def sign_table(rows: int = 300, seed: int = 1) -> pd.DataFrame:
    frame = features(rows, seed)
    frame["y"] = np.where(frame["c"] > 0, "yes", "no")
    return frame


def write(frame: pd.DataFrame, path: Path) -> str:
    frame.to_csv(path, index=False)
    return str(path)


def card(home: Path, version: int) -> dict:
    return open_store(str(home)).metadata("loop", version).metadata


def aliases(home: Path) -> dict:
    return open_store(str(home)).summary().set_index("version")["aliases"].to_dict()


def test_production_moves_only_to_a_better_version(prefect_server, tmp_path):
    home = tmp_path / "home"
    old = write(xor_table(), tmp_path / "xor.csv")
    run = dict(target="y", name="loop", champion="production", data_dir=str(home), seed=1)
    run |= {**TINY_SEARCH, "report": False}

    first = tunelab.train(old, families=["random_forest"], **run)
    assert first.version == 1 and aliases(home)[1] == "production"
    assert card(home, 1)["champion"]["promoted"] and card(home, 1)["champion"]["version"] is None

    weak = tunelab.train(old, families=["linear"], **run)  # a line cannot draw an XOR
    assert weak.version == 2 and aliases(home) == {1: "production", 2: ""}
    decision = card(home, 2)["champion"]
    assert decision["version"] == 1 and decision["promoted"] is False
    assert decision["challenger_score"] == pytest.approx(weak.test_score)
    assert decision["score"] > 0.9 > 0.7 > decision["challenger_score"]
    assert card(home, 2)["parent"] == {"name": "loop", "version": 1}

    new = write(sign_table(), tmp_path / "sign.csv")  # the target now follows another feature
    better = tunelab.train(new, families=["linear"], **{**run, "report": True})
    assert better.version == 3 and aliases(home) == {1: "", 2: "", 3: "production"}
    decision = card(home, 3)["champion"]
    assert decision["promoted"] and decision["version"] == 1
    assert decision["challenger_score"] > 0.9 > 0.7 > decision["score"]

    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        artifacts = {a.key: a.data for a in client.read_latest_artifacts()}
    assert "`production` moved to loop v3: challenger" in artifacts["loop-summary"]
    assert (
        f"| champion (`production`) | v1 | {decision['score']:.4f} |" in (artifacts["loop-summary"])
    )
    assert "no drift against loop v1" in artifacts["loop-summary"]
    drift_rows = json.loads(artifacts["loop-drift"])
    assert {row["feature"] for row in drift_rows} == {*FEATURES, "colour"}
    assert "![drift](data:image/png;base64," in artifacts["loop-plots"]
    report = (home / "registry" / "loop" / "v3" / "report.html").read_text()
    assert "Champion decision" in report and 'data-figure="drift"' in report

    listing = cli("models", "list", "--data-dir", str(home)).stdout.splitlines()
    assert "production (first)" in listing[1] and "production (over v1)" in listing[3]
    assert "loop v1" in listing[2] and "loop v1" in listing[3]  # parent column


def test_drift_flags_a_shifted_column_and_not_a_fresh_sample():
    table = features(2000, seed=5)
    reference, today = table.iloc[:1000], table.iloc[1000:].reset_index(drop=True)
    from tunelab.pipelines import infer_schema

    schema = infer_schema(reference, pd.Series(0.0, index=reference.index, name="t"), "regression")
    profile = profile_frame(reference, schema)

    fresh = compare_with_profile(profile, today, 0.2, "ref v1")
    assert fresh.drifted == [] and max(f.psi for f in fresh.features) < 0.1

    shifted = today.assign(c=today["c"] + 2 * reference["c"].std())
    report = compare_with_profile(profile, shifted, 0.2, "ref v1")
    assert [f.column for f in report.drifted] == ["c"]
    assert report.drifted[0].psi > 1 and report.drifted[0].change == "mean +2.0 std"
    recoloured = today.assign(colour="red")
    assert [f.column for f in compare_with_profile(profile, recoloured, 0.2, "r").drifted] == [
        "colour"
    ]


def test_numeric_profiles_are_computed_together_as_pandas_computes_each_column():
    """The profile of all numeric columns at once (one array) equals pandas' per-column
    quantiles, shares and moments: with missing values, integers, and numbers stored as text."""
    from tunelab.drift import NUMERIC_BINS, numeric_shares
    from tunelab.pipelines import infer_schema

    rng = np.random.default_rng(3)
    frame = features(300, seed=3)
    frame.loc[::7, "a"] = np.nan
    frame["count"] = rng.integers(0, 4, size=300)
    frame["text_number"] = rng.normal(size=300).round(3).astype(str)
    frame.loc[::11, "text_number"] = "n/a"
    schema = infer_schema(frame, pd.Series(0.0, index=frame.index, name="t"), "regression")
    profile = profile_frame(frame, schema)["columns"]

    numeric = [c.name for c in schema.columns if c.role == "numeric"]
    assert {"a", "count"} <= set(numeric) and "colour" in profile
    for name in numeric:
        column = pd.to_numeric(frame[name], errors="coerce").astype(float)
        quantiles = column.dropna().quantile(np.linspace(0, 1, NUMERIC_BINS + 1)).tolist()
        edges = sorted(set(quantiles[1:-1]))
        got = profile[name]
        assert got["quantiles"] == pytest.approx(quantiles, rel=1e-12)
        assert got["edges"] == pytest.approx(edges, rel=1e-12)
        assert got["shares"] == pytest.approx(numeric_shares(column, edges))
        assert got["mean"] == pytest.approx(column.mean(), rel=1e-12)
        assert got["std"] == pytest.approx(column.std(ddof=0), rel=1e-12)
    assert profile["a"]["shares"][-1] == pytest.approx(frame["a"].isna().mean())


def test_fail_on_drift_stops_before_training_with_one_line(prefect_server, tmp_path):
    home = tmp_path / "home"
    table = xor_table(400)
    run = dict(target="y", name="loop", champion="production", data_dir=str(home))
    tunelab.train(write(table, tmp_path / "first.csv"), **run, **TINY_SEARCH, report=False)
    runs = set((home / "runs").iterdir())

    shifted = write(table.assign(c=table["c"] + 2 * table["c"].std()), tmp_path / "shifted.csv")
    done = cli(
        "run", "--data", shifted, "--target", "y", "--name", "loop", "--data-dir", str(home),
        "--champion", "production", "--fail-on-drift", env={"PREFECT_API_URL": prefect_server},
    )  # fmt: skip
    assert done.returncode == 2, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, done.stderr[-2000:]
    assert errors[0].startswith("error: Data drift against loop v1: 1 of 5 features above PSI")
    assert "c (PSI" in errors[0] and "--fail-on-drift" in errors[0]
    assert open_store(str(home)).summary()["version"].tolist() == [1]  # nothing registered
    assert set((home / "runs").iterdir()) == runs  # and no trial ran


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """The ``tunelab`` command in its own process, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "tunelab.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )


def test_warm_started_search_begins_with_the_parents_winners(tmp_path):
    home = tmp_path / "home"
    data = write(xor_table(), tmp_path / "xor.csv")
    run = dict(target="y", data_dir=str(home), orchestrate=False, report=False, **TINY_SEARCH)
    parent = tunelab.train(data, name="parent", families=["random_forest"], **run)
    # The child also searches linear, whose defaults a cold search would try first.
    child = tunelab.train(
        data, name="child", warm_start="parent:1", families=["linear", "random_forest"], **run
    )
    store = open_store(str(home))
    entry = store.metadata("parent", 1)
    board = store.leaderboard("parent", 1)
    expected = warm_starting_points(entry.metadata, board, "binary", ["linear", "random_forest"])
    assert expected[0] == parent.best_config  # the parent's shipped winner comes first
    assert 1 < len(expected) < TINY_SEARCH["max_evals"]
    ok_final = board[(board["search"] == "final") & (board["status"] == "ok")]
    assert ok_final.sort_values("score")["config"].iloc[-1] in [repr(c) for c in expected]
    trials = store.leaderboard("child", child.version)
    for search in ("outer-0", "outer-1"):
        first = trials[trials["search"] == search].sort_values("number")["config"]
        firsts = list(first.head(len(expected) + 1))
        assert firsts[:-1] == [repr(c) for c in expected], search
        assert "'family': 'linear'" in firsts[-1]  # the library's defaults come after them
    assert store.metadata("child", child.version).metadata["parent"] == {
        "name": "parent",
        "version": 1,
    }


def test_a_champion_whose_columns_are_gone_does_not_block_the_run(tmp_path):
    home = tmp_path / "home"
    run = dict(target="y", name="loop", champion="production", data_dir=str(home))
    run |= {**TINY_SEARCH, "orchestrate": False, "report": False, "families": ["linear"]}
    tunelab.train(write(sign_table(), tmp_path / "old.csv"), **run)
    renamed = sign_table(seed=2).rename(columns={"a": "alpha"})
    result = tunelab.train(write(renamed, tmp_path / "new.csv"), **run)
    decision = card(home, 2)["champion"]
    assert decision["promoted"] and decision["score"] is None
    assert "schema no longer matches the data" in decision["reason"]
    assert "'a'" in decision["reason"]
    assert card(home, 2)["drift"]["missing_columns"] == ["a"]
    assert result.champion == decision and aliases(home)[2] == "production"


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--champion", "latest"], "champion='latest': Invalid alias"),
        (["--warm-start", "no/such"], "Invalid model name 'no/such'"),
        (["--warm-start", "nothing:production"], "No registered model named 'nothing'"),
        (["--min-improvement", "-1"], "min_improvement=-1.0"),
    ],
)
def test_bad_retraining_options_fail_with_one_line(option, message, tmp_path, capsys):
    data = write(sign_table(), tmp_path / "t.csv")
    home = tmp_path / "home"
    argv = ["run", "--data", data, "--target", "y", "--data-dir", str(home), "--no-prefect"]
    assert main([*argv, "--max-evals", "2", *option]) == 2
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: ") and message in last and "Traceback" not in err
    assert not (home / "registry").exists() or not any((home / "registry").iterdir())

"""Hostile and odd inputs: each ends in one ``error:`` line and exit 2, or works, and never
changes the registry, runs planted code or writes outside the data dir.

The CLI is called in-process (``tunelab.cli.main``); only a few cases need a real process.
Cases marked ``flow`` go through a Prefect flow and use the session's test server.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import pickle
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import prefect  # noqa: F401  (sets up its log handlers now, not inside a capsys-captured test)
import pytest

from tests.hostile_support import (
    LINEAR,
    PickleBomb,
    deep_json,
    edit_metadata,
    malicious_model_bytes,
    payloads,
    plant_model,
    register_tiny_model,
    snapshot,
    training_frame,
)
from tunelab.checkpoint import load_trials, save_trials
from tunelab.cli import main
from tunelab.errors import CheckpointError, StorageError
from tunelab.registry import ModelRegistry


@dataclass
class Ctx:
    """One case's world: a private copy of a real registry, and a scratch folder."""

    tmp: Path
    home: Path
    marker: Path

    @property
    def registry(self) -> Path:
        return self.home / "registry"

    @property
    def v1(self) -> Path:
        return self.registry / "m" / "v1"

    def csv(self, name: str, text: str) -> str:
        path = self.tmp / name
        path.write_text(text)
        return str(path)

    def frame_file(self, name: str, frame: pd.DataFrame) -> str:
        path = self.tmp / name
        if name.endswith(".parquet"):
            frame.to_parquet(path)
        else:
            frame.to_csv(path, index=False)
        return str(path)

    def rows(self, change: Callable[[pd.DataFrame], pd.DataFrame] = lambda f: f) -> str:
        """Rows to score, as CSV, after ``change``."""
        return self.frame_file("new.csv", change(training_frame(30, seed=1).drop(columns="label")))

    def run(self, data: str, *extra: str, target: str = "label") -> list[str]:
        small = ["--max-evals", "1", "--outer-folds", "2", "--inner-folds", "2"]
        small += ["--families", "linear", "--n-jobs", "1"]
        base = ["run", "--data", data, "--target", target, "--data-dir", str(self.home)]
        return base + small + list(extra)

    def predict(self, *extra: str, data: str | None = None) -> list[str]:
        return ["predict", "--data", data or self.rows(), "--data-dir", str(self.home), *extra]


@dataclass
class Case:
    argv: Callable[[Ctx], list[str]]
    code: int
    message: str
    flow: bool = False
    #: Extra assertion after the command (e.g. a file outside the registry was not created).
    check: Callable[[Ctx], None] | None = None
    #: Whether the command may change the registry (only successful promotions do).
    changes_registry: bool = False
    env: dict[str, str] = field(default_factory=dict)


def good_frame(rows: int = 60) -> pd.DataFrame:
    frame = training_frame(rows)
    return frame


def csv_text(frame: pd.DataFrame) -> str:
    return frame.to_csv(index=False)


def _run(ctx: Ctx, frame: pd.DataFrame, *extra: str, target: str = "label") -> list[str]:
    return ctx.run(ctx.frame_file("data.csv", frame), *extra, target=target)


def _params(*extra: str) -> Callable[[Ctx], list[str]]:
    return lambda c: _run(c, good_frame(), *extra)


def _nested(kind: str) -> Callable[[Ctx], list[str]]:
    def build(c: Ctx) -> list[str]:
        frame = good_frame()
        values = [[1, 2], [3]] if kind == "list" else [{"a": 1}, {"a": 2}]
        frame["bag"] = values * (len(frame) // 2)
        return c.run(c.frame_file("data.parquet", frame))

    return build


def _dst_dates(rows: int) -> list[str]:
    """Europe/Berlin local times: the UTC offset changes from +01:00 to +02:00 on 28 March."""
    days = pd.date_range("2021-03-20 12:00", periods=rows, freq="D", tz="Europe/Berlin")
    return [d.isoformat() for d in days]


def _malicious(payload: str) -> Callable[[Ctx], list[str]]:
    def build(c: Ctx) -> list[str]:
        func, module, name, kw_args, _ = payloads(c.marker, c.tmp)[payload]
        plant_model(c.v1, malicious_model_bytes(func, module, name, kw_args))
        return c.predict("--model", "m")

    return build


def _no_marker(c: Ctx) -> None:
    assert not c.marker.exists(), "planted code ran"


def _outside_untouched(c: Ctx) -> None:
    assert not (c.tmp / "outside" / "aliases.json").exists()
    assert not (c.home / "outside").exists() and not (c.tmp.parent / "outside").exists()


def _prepare_outside_model(c: Ctx) -> Path:
    """A complete, valid model folder outside the registry, as an attacker would plant it."""
    outside = c.tmp / "outside"
    shutil.copytree(c.registry / "m", outside)
    return outside


def _symlinked_name(c: Ctx) -> list[str]:
    (c.registry / "evil").symlink_to(_prepare_outside_model(c), target_is_directory=True)
    return c.predict("--model", "evil")


def _symlinked_version(c: Ctx) -> list[str]:
    (c.registry / "m" / "v2").symlink_to(_prepare_outside_model(c) / "v1")
    return c.predict("--model", "m", "--version", "2")


def _corrupt_aliases(text: str, *argv: str) -> Callable[[Ctx], list[str]]:
    def build(c: Ctx) -> list[str]:
        (c.registry / "m" / "aliases.json").write_text(text)
        return list(argv) if argv[0] != "predict" else c.predict(*argv[1:])

    return build


def _with_home(argv: list[str]) -> Callable[[Ctx], list[str]]:
    return lambda c: [*argv, "--data-dir", str(c.home)]


def _planted_checkpoint(c: Ctx) -> list[str]:
    run_dir = c.home / "runs" / "resume-me"
    run_dir.mkdir(parents=True)
    bomb = pickle.dumps(PickleBomb(c.marker))
    for name in ("outer-0.trials.json", "outer-1.trials.json", "outer-0.trials.pkl"):
        (run_dir / name).write_bytes(bomb)
    return _run(c, good_frame(), "--run-id", "resume-me")


def _second_version_corrupt(c: Ctx, text: str = "{not json") -> list[str]:
    shutil.copytree(c.v1, c.registry / "m" / "v2")
    (c.registry / "m" / "v2" / "metadata.json").write_text(text)
    return ["models", "list", "--data-dir", str(c.home)]


def _deep_metadata(*argv: str) -> Callable[[Ctx], list[str]]:
    """metadata.json nested 100,000 levels deep, then ``argv`` (``predict`` gets its rows)."""

    def build(c: Ctx) -> list[str]:
        (c.v1 / "metadata.json").write_text(deep_json())
        return c.predict(*argv[1:]) if argv[0] == "predict" else [*argv, "--data-dir", str(c.home)]

    return build


def _drop_from_card(c: Ctx, field: str) -> None:
    meta_file = c.v1 / "metadata.json"
    card = json.loads(meta_file.read_text())
    del card[field]
    meta_file.write_text(json.dumps(card))


def _retyped_card(argv: str, **fields: object) -> Callable[[Ctx], list[str]]:
    """A card whose checksum still matches the model but whose fields have the wrong types."""

    def build(c: Ctx) -> list[str]:
        edit_metadata(c.v1, **fields)
        if argv == "predict":
            return c.predict("--model", "m")
        return ["models", argv, "m", "--data-dir", str(c.home)]

    return build


GOOD = good_frame()
HALF = [str(i) if i % 2 else f"w{i}" for i in range(60)]

CASES: dict[str, Case] = {
    # --- bad or odd training files --------------------------------------------------------
    "missing file": Case(lambda c: c.run(str(c.tmp / "nope.csv")), 2, "Data file not found"),
    "unsupported type": Case(lambda c: c.run(c.csv("data.xlsx", "x")), 2, "Unsupported file type"),
    "directory": Case(
        lambda c: c.run(str(c.tmp.joinpath("d.csv").mkdir() or c.tmp / "d.csv")), 2, "directory"
    ),
    "empty file": Case(lambda c: c.run(c.csv("data.csv", "")), 2, "is empty"),
    "header only": Case(lambda c: c.run(c.csv("data.csv", "x,label\n")), 2, "empty (no rows)"),
    "corrupt parquet": Case(
        lambda c: c.run(c.csv("data.parquet", "not parquet")), 2, "Could not read"
    ),
    "binary garbage csv": Case(
        lambda c: c.run(
            str(c.tmp.joinpath("g.csv").write_bytes(b"\xff\xfe\x00\x81" * 50) and c.tmp / "g.csv")
        ),
        2,
        "Could not parse",
    ),
    "semicolon delimited": Case(
        lambda c: c.run(c.csv("data.csv", GOOD.to_csv(index=False, sep=";"))),
        2,
        "looks ';'-delimited",
    ),
    "tab delimited": Case(
        lambda c: c.run(c.csv("data.csv", GOOD.to_csv(index=False, sep="\t"))),
        2,
        "looks '\\t'-delimited",
    ),
    "duplicated csv header": Case(
        lambda c: c.run(c.csv("data.csv", "x,x,label\n" + "1,2,a\n3,4,b\n" * 30)),
        2,
        "Duplicate column names in",
    ),
    "real column named like a pandas duplicate": Case(
        lambda c: _run(c, GOOD.assign(**{"x.1": 1.0}), target="lable"),
        2,
        "did you mean 'label'",  # got past the header check: no false alarm
    ),
    "half numbers half words": Case(
        lambda c: _run(c, GOOD.assign(code=HALF)), 2, "'code' mixes numbers and text"
    ),
    "mostly numbers stray word": Case(
        lambda c: _run(c, GOOD.assign(code=["1.5"] * 55 + ["oops"] * 5)), 2, "mostly numeric"
    ),
    "BOM and CRLF line ends": Case(
        lambda c: c.run(
            c.csv(
                "bom.csv",
                "\ufeff"
                + GOOD[["label", "x"]]
                .assign(label=["a", "b", "c"] * 20)
                .to_csv(index=False, lineterminator="\r\n"),
            ),
            "--task",
            "binary",
        ),
        2,
        "exactly two",  # the BOM did not hide the first column's name
    ),
    "one row": Case(lambda c: _run(c, GOOD.head(1)), 2, "The table has 1 row; at least 20"),
    "five rows": Case(lambda c: _run(c, GOOD.head(5)), 2, "The table has 5 rows; at least 20"),
    "unknown target": Case(lambda c: _run(c, GOOD, target="lable"), 2, "did you mean 'label'"),
    "target all missing": Case(lambda c: _run(c, GOOD.assign(label=np.nan)), 2, "all missing"),
    "single class": Case(lambda c: _run(c, GOOD.assign(label="a")), 2, "single class"),
    "constant features": Case(
        lambda c: _run(c, GOOD.assign(x=1.0, colour="red", when="2021-01-01")),
        2,
        "constant or empty",
    ),
    "no features": Case(lambda c: _run(c, GOOD[["label"]]), 2, "no feature columns"),
    "infinite value": Case(
        lambda c: _run(c, GOOD.assign(x=np.r_[np.inf, np.zeros(59)])), 2, "infinite values"
    ),
    "date target": Case(
        lambda c: _run(
            c, GOOD.assign(label=pd.date_range("2020-01-01", periods=60)), "--task", "regression"
        ),
        2,
        "(example value: '2020-01-01')",
    ),
    "parquet list column": Case(_nested("list"), 2, "'bag' holds nested values (lists"),
    "parquet struct column": Case(_nested("struct"), 2, "'bag' holds nested values (structs"),
    "outer folds beyond regression rows": Case(
        lambda c: _run(
            c,
            GOOD.head(20).assign(label=np.arange(20.0)),
            "--outer-folds",
            "20",
            "--task",
            "regression",
        ),
        2,
        "Too few rows for 20 outer",
    ),
    "too few rows per class": Case(
        lambda c: _run(c, GOOD.assign(label=["a"] * 56 + ["b"] * 4)), 2, "Too few rows per class"
    ),
    "binary with three classes": Case(
        lambda c: _run(c, GOOD.assign(label=["a", "b", "c"] * 20), "--task", "binary"),
        2,
        "exactly two",
    ),
    "text target as regression": Case(
        lambda c: _run(c, GOOD, "--task", "regression"), 2, "not numeric"
    ),
    # --- bad parameters ---------------------------------------------------------------------
    "metric for another task": Case(_params("--metric", "r2"), 2, "not available"),
    "unknown task": Case(_params("--task", "ranking"), 2, "invalid choice"),
    "test size above one": Case(_params("--test-size", "1.5"), 2, "test_size"),
    "test size zero": Case(_params("--test-size", "0"), 2, "test_size"),
    "one outer fold": Case(_params("--outer-folds", "1"), 2, "outer_folds"),
    "one inner fold": Case(_params("--inner-folds", "1"), 2, "inner_folds"),
    "zero trials": Case(_params("--max-evals", "0"), 2, "max_evals"),
    "max evals not a number": Case(_params("--max-evals", "many"), 2, "invalid int value"),
    # These reach the flow until the run configuration validates them up front.
    "unknown family": Case(_params("--families", "catboost"), 2, "catboost", flow=True),
    "time budget nan": Case(_params("--time-budget", "nan"), 2, "time_budget", flow=True),
    "negative time budget": Case(_params("--time-budget", "-5"), 2, "time_budget", flow=True),
    "negative trial timeout": Case(_params("--trial-timeout", "-1"), 2, "trial_timeout", flow=True),
    "zero cores": Case(_params("--n-jobs", "0"), 2, "n_jobs", flow=True),
    "name with newline": Case(_params("--name", "evil\n"), 2, "Invalid model name", flow=True),
    "name escaping the registry": Case(
        _params("--name", "../../outside"), 2, "Invalid model name", flow=True
    ),
    "run id escaping the data dir": Case(
        _params("--run-id", "../../escape"), 2, "run", flow=True, check=_outside_untouched
    ),
    # --- data dir -------------------------------------------------------------------------------
    "TUNELAB_HOME is a file": Case(
        lambda c: ["models", "list"], 2, "is a file, not a folder", env={"TUNELAB_HOME": "@file"}
    ),
    "data dir under a file": Case(
        lambda c: ["models", "list", "--data-dir", str(c.tmp / "afile" / "sub")],
        2,
        "is a file, not a folder",
    ),
    # --- registry names, versions and aliases -------------------------------------------------
    "promote outside the registry": Case(
        _with_home(["models", "promote", "../../outside", "1"]),
        2,
        "Invalid model name",
        check=_outside_untouched,
    ),
    "show outside the registry": Case(
        _with_home(["models", "show", "../../outside"]), 2, "Invalid model name"
    ),
    "show name with newline": Case(_with_home(["models", "show", "m\n"]), 2, "Invalid model name"),
    "show bad version reference": Case(
        _with_home(["models", "show", "m", "--version", "../v1"]), 2, "Invalid alias"
    ),
    "show version zero": Case(
        _with_home(["models", "show", "m", "--version", "0"]), 2, "has no version 0"
    ),
    "promote reserved alias": Case(
        _with_home(["models", "promote", "m", "1", "--alias", "latest"]), 2, "version reference"
    ),
    "promote alias with slash": Case(
        _with_home(["models", "promote", "m", "1", "--alias", "a/b"]), 2, "Invalid alias"
    ),
    "promote alias with newline": Case(
        _with_home(["models", "promote", "m", "1", "--alias", "prod\n"]), 2, "Invalid alias"
    ),
    "promote missing version": Case(
        _with_home(["models", "promote", "m", "9"]), 2, "has no version 9"
    ),
    "promote works": Case(
        _with_home(["models", "promote", "m", "1", "--alias", "stable"]),
        0,
        "",
        changes_registry=True,
    ),
    "promote with corrupt aliases": Case(
        lambda c: (
            _corrupt_aliases("{oops", "models", "promote", "m", "1")(c)
            + ["--data-dir", str(c.home)]
        ),
        2,
        "aliases file",
    ),
    "promote with aliases of wrong shape": Case(
        lambda c: (
            _corrupt_aliases('{"production": "1; rm -rf /"}', "models", "promote", "m", "1")(c)
            + ["--data-dir", str(c.home)]
        ),
        2,
        "aliases file",
    ),
    "promote when aliases file is a folder": Case(
        lambda c: (
            (c.registry / "m" / "aliases.json").unlink()
            or (c.registry / "m" / "aliases.json").mkdir()
            or ["models", "promote", "m", "1", "--alias", "x", "--data-dir", str(c.home)]
        ),
        2,
        "aliases.json",
    ),
    "show corrupt metadata": Case(
        lambda c: (
            (c.v1 / "metadata.json").write_text("{")
            and ["models", "show", "m", "--data-dir", str(c.home)]
        ),
        2,
        "metadata file",
    ),
    "list skips corrupt metadata": Case(_second_version_corrupt, 0, ""),
    "list skips deeply nested metadata": Case(
        lambda c: _second_version_corrupt(c, deep_json()), 0, ""
    ),
    "show deeply nested metadata": Case(
        _deep_metadata("models", "show", "m"), 2, "is corrupt (nested too deeply)"
    ),
    "show card with schema as text": Case(
        _retyped_card("show", schema="columns"), 2, "is corrupt (schema: "
    ),
    "show card with task as a number": Case(_retyped_card("show", task=7), 2, "is corrupt (task: "),
    "list ignores stray folders": Case(
        lambda c: (
            (c.registry / ".hidden").mkdir()
            or (c.registry / "bad name").mkdir()
            or ["models", "list", "--data-dir", str(c.home)]
        ),
        0,
        "",
    ),
    # --- prediction: names, tampering, planted code ---------------------------------------------
    "predict outside the registry": Case(
        lambda c: _prepare_outside_model(c) and c.predict("--model", "../../outside"),
        2,
        "Invalid model name",
        flow=True,
    ),
    "predict name with newline": Case(
        lambda c: c.predict("--model", "m\n"), 2, "Invalid model name", flow=True
    ),
    "predict unknown model": Case(
        lambda c: c.predict("--model", "nobody"), 2, "No registered model named", flow=True
    ),
    "predict unknown alias": Case(
        lambda c: c.predict("--model", "m", "--version", "staging"), 2, "no alias", flow=True
    ),
    "predict symlinked name": Case(_symlinked_name, 2, "outside the registry", flow=True),
    "predict symlinked version": Case(_symlinked_version, 2, "has no version 2", flow=True),
    "predict corrupt aliases": Case(
        _corrupt_aliases("[1, 2]", "predict", "--model", "m", "--version", "production"),
        2,
        "aliases file",
        flow=True,
    ),
    "predict tampered model": Case(
        lambda c: (
            (c.v1 / "model.skops").write_bytes(b"PK\x03\x04 tampered") and c.predict("--model", "m")
        ),
        2,
        "Integrity check failed",
        flow=True,
    ),
    "predict garbage model with matching hash": Case(
        lambda c: plant_model(c.v1, b"PK\x03\x04 not a zip") or c.predict("--model", "m"),
        2,
        "not a valid skops file",
        flow=True,
    ),
    "predict metadata pointing elsewhere": Case(
        lambda c: (
            edit_metadata(c.v1, model_file="../../../outside.skops") or c.predict("--model", "m")
        ),
        0,
        "",  # the registered model.skops is loaded, never the path from the metadata
        flow=True,
    ),
    "predict corrupt metadata": Case(
        lambda c: (
            (c.v1 / "metadata.json").write_text('{"model_sha256": 5}') and c.predict("--model", "m")
        ),
        2,
        "is corrupt",
        flow=True,
    ),
    "predict deeply nested metadata": Case(
        _deep_metadata("predict", "--model", "m"), 2, "is corrupt (nested too deeply)", flow=True
    ),
    "predict card with schema as text": Case(
        _retyped_card("predict", schema="columns"), 2, "is corrupt (schema: ", flow=True
    ),
    "predict card with task as a number": Case(
        _retyped_card("predict", task=7), 2, "is corrupt (task: ", flow=True
    ),
    "predict card without a schema": Case(
        lambda c: _drop_from_card(c, "schema") or c.predict("--model", "m"),
        2,
        "has no input schema",
        flow=True,
    ),
    "predict card with columns of the wrong shape": Case(
        lambda c: (
            edit_metadata(c.v1, schema={"target": "label", "task": "binary", "columns": [1]})
            or c.predict("--model", "m")
        ),
        2,
        "is corrupt (schema.columns.0: ",
        flow=True,
    ),
    **{
        f"planted {name}": Case(
            _malicious(name), 2, "unexpected types", flow=True, check=_no_marker
        )
        for name in (
            "check_output via sklearn",
            "numpy.load pickle",
            "numpy.load via sklearn array_api_compat",
            "builtins.eval",
            "os.system",
        )
    },
    # --- prediction rows and output ---
    "predict missing column": Case(
        lambda c: c.predict("--model", "m", data=c.rows(lambda f: f.drop(columns="x"))),
        2,
        "missing columns the model needs: 'x'",
        flow=True,
    ),
    "predict text in numeric column": Case(
        lambda c: c.predict("--model", "m", data=c.rows(lambda f: f.assign(x="lots"))),
        2,
        "'x' must be numeric",
        flow=True,
    ),
    "predict non-ISO dates": Case(
        lambda c: c.predict("--model", "m", data=c.rows(lambda f: f.assign(when="last spring"))),
        2,
        "ISO-8601",
        flow=True,
    ),
    "predict dates across a DST switch": Case(
        lambda c: c.predict(
            "--model",
            "m",
            "--output",
            str(c.tmp / "out.csv"),
            data=c.rows(lambda f: f.assign(when=_dst_dates(len(f)))),
        ),
        0,
        "",
        flow=True,
        check=lambda c: pd.read_csv(c.tmp / "out.csv").shape[0] == 30 or pytest.fail("no rows"),
    ),
    "predict output is a folder": Case(
        lambda c: (
            c.tmp.joinpath("out.csv").mkdir()
            or c.predict("--model", "m", "--output", str(c.tmp / "out.csv"))
        ),
        2,
        "not a regular file",
        flow=True,
    ),
    "predict output with unknown suffix": Case(
        lambda c: c.predict("--model", "m", "--output", str(c.tmp / "out.txt")),
        2,
        "must end in .csv or .parquet",
        flow=True,
    ),
}


# The planted-checkpoint case needs a flow run to reach the resume step.
CASES["resume from a planted checkpoint"] = Case(
    _planted_checkpoint, 2, "is corrupt or was not written by tunelab", flow=True, check=_no_marker
)


@pytest.fixture(autouse=True)
def _log_handlers_on_live_streams():
    """Log handlers created while an earlier test's ``capsys`` was active hold its (now closed)
    stream; point them at the current one so a later flow's log line cannot fail the test."""
    loggers = [logging.getLogger()] + [
        item for item in logging.Logger.manager.loggerDict.values()
        if isinstance(item, logging.Logger)
    ]  # fmt: skip
    for handler in (h for logger in loggers for h in logger.handlers):
        stream = getattr(handler, "stream", None)
        if stream is not None and getattr(stream, "closed", False):
            handler.stream = sys.stderr  # setStream would flush the closed one
        console = getattr(handler, "console", None)
        if console is not None and getattr(console.file, "closed", False):
            console.file = sys.stderr
    yield


@pytest.fixture(scope="module")
def base_home(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("hostile-home")
    register_tiny_model(home / "registry")
    ModelRegistry(home / "registry").set_alias("m", "production", 1)
    return home


@pytest.fixture
def ctx(base_home, tmp_path) -> Ctx:
    home = tmp_path / "home"
    shutil.copytree(base_home, home, symlinks=True)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    return Ctx(tmp=scratch, home=home, marker=tmp_path / "PWNED")


def cli(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exit_:  # argparse rejects bad flags this way
        return int(exit_.code or 0)


@pytest.mark.parametrize("case_id", list(CASES), ids=list(CASES))
def test_hostile_input(case_id, ctx, capsys, monkeypatch, request):
    case = CASES[case_id]
    if case.flow:
        request.getfixturevalue("prefect_server")
    for key, value in case.env.items():
        if value == "@file":
            value = str(ctx.tmp / "afile")
            Path(value).write_text("not a folder")
        monkeypatch.setenv(key, value)
    if "afile" in case_id or "under a file" in case_id:
        (ctx.tmp / "afile").write_text("not a folder")
    argv = case.argv(ctx)
    before = snapshot(ctx.registry)
    code = cli(argv)
    err = capsys.readouterr().err
    assert code == case.code, err[-2000:]
    assert "Traceback" not in err
    if case.code == 2:
        if "invalid" not in case.message:  # argparse's own usage message
            assert "error: " in err
        assert case.message in err
    if not case.changes_registry:
        assert snapshot(ctx.registry) == before
    if case.check is not None:
        case.check(ctx)


def test_listing_names_the_corrupt_version_and_keeps_the_good_one(ctx, capsys):
    cli(_second_version_corrupt(ctx))
    out = capsys.readouterr().out
    assert "metadata file" in out and "v2" in out.replace("m/v2", "v2")
    assert "roc_auc" in out  # v1 is still listed with its metrics


def test_listing_survives_a_deeply_nested_card(ctx, capsys):
    assert cli(_second_version_corrupt(ctx, deep_json())) == 0
    out = capsys.readouterr().out
    assert "nested too deeply" in out and "roc_auc" in out  # v1 listed, v2 has a problem


def test_show_prints_valid_json_when_the_card_holds_nan_and_infinity(ctx, capsys):
    edit_metadata(ctx.v1, metrics={"test_score": float("nan"), "outer_cv": {"max": float("inf")}})
    assert "NaN" in (ctx.v1 / "metadata.json").read_text()  # what the reader is given
    assert cli(["models", "show", "m", "--data-dir", str(ctx.home)]) == 0
    out = capsys.readouterr().out

    def refuse(constant: str) -> None:
        raise AssertionError(f"{constant} is not JSON")

    card = json.loads(out, parse_constant=refuse)
    assert card["metrics"] == {"test_score": None, "outer_cv": {"max": None}}


def test_promote_writes_nothing_outside_the_registry(ctx):
    (ctx.tmp / "outside").mkdir()
    assert cli(["models", "promote", "../scratch/outside", "1", "--data-dir", str(ctx.home)]) == 2
    assert list((ctx.tmp / "outside").iterdir()) == []


# --- planted code is live: proof the refusal above is what keeps it from running --------------
@pytest.mark.parametrize("payload", ["check_output via sklearn", "numpy.load pickle", "os.system"])
def test_planted_payloads_would_run_if_loaded_without_the_allow_list(payload, tmp_path):
    import skops.io as sio

    marker = tmp_path / "PWNED"
    func, module, name, kw_args, argument = payloads(marker, tmp_path)[payload]
    data = malicious_model_bytes(func, module, name, kw_args)
    model = sio.loads(data, trusted=sio.get_untrusted_types(data=data))
    with contextlib.suppress(Exception):  # e.g. check_output's empty output is not a table
        model.named_steps["hack"].transform(argument)
    assert marker.exists()


# --- checkpoints ---------------------------------------------------------------------------------
def _valid_checkpoint(tmp_path: Path) -> Path:
    from hyperopt import STATUS_OK, Trials, fmin, hp, tpe

    trials = Trials()
    fmin(
        lambda x: {  # what tunelab's objective returns
            "family": "linear",
            "config": LINEAR,
            "loss": -x,
            "score": x,
            "score_std": 0.0,
            "fold_scores": [x, x],
            "status": STATUS_OK,
            "fit_seconds": 0.1,
        },
        hp.uniform("x", 0, 1),
        algo=tpe.suggest,
        max_evals=2,
        trials=trials,
        rstate=np.random.default_rng(0),
        show_progressbar=False,
    )
    path = tmp_path / "final.trials.json"
    save_trials(path, trials)
    return path


def _edit(path: Path, change: Callable[[dict], None]) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


CHECKPOINT_DAMAGE: dict[str, Callable[[Path], None]] = {
    "pickle bytes": lambda p: p.write_bytes(pickle.dumps(PickleBomb(p.parent / "PWNED"))),
    "truncated": lambda p: p.write_bytes(p.read_bytes()[:40]),
    "empty": lambda p: p.write_bytes(b""),
    "not an object": lambda p: p.write_text("[1, 2]"),
    "wrong format": lambda p: _edit(p, lambda d: d.update(format="other")),
    "tid out of order": lambda p: _edit(p, lambda d: d["trials"][1].update(tid=7)),
    "value not a number": lambda p: _edit(
        p, lambda d: d["trials"][0]["misc"]["vals"].update(x=["__import__('os')"])
    ),
    "extra key": lambda p: _edit(p, lambda d: d["trials"][0].update(evil=1)),
    "bad time": lambda p: _edit(p, lambda d: d["trials"][0].update(book_time="yesterday")),
    "result not an object": lambda p: _edit(p, lambda d: d["trials"][0].update(result="ok")),
    "text fold score": lambda p: _edit(p, lambda d: _result(d).update(fold_scores=["high"])),
    "text score": lambda p: _edit(p, lambda d: _result(d).update(score="0.9")),
    "config not an object": lambda p: _edit(p, lambda d: _result(d).update(config="linear")),
    "family a number": lambda p: _edit(p, lambda d: _result(d).update(family=3)),
    "unknown outcome": lambda p: _edit(p, lambda d: _result(d).update(outcome="won")),
    "negative seconds": lambda p: _edit(p, lambda d: _result(d).update(fit_seconds=-1)),
    "deeply nested": lambda p: p.write_text("[" * 100_000 + "]" * 100_000),
}


def _result(data: dict) -> dict:
    return data["trials"][1]["result"]


@pytest.mark.parametrize("damage", list(CHECKPOINT_DAMAGE), ids=list(CHECKPOINT_DAMAGE))
def test_damaged_checkpoint_is_refused_with_what_to_do(damage, tmp_path):
    path = _valid_checkpoint(tmp_path)
    assert len(load_trials(path).trials) == 2
    CHECKPOINT_DAMAGE[damage](path)
    with pytest.raises(CheckpointError) as error:
        load_trials(path)
    assert str(path) in str(error.value) and "--run-id" in str(error.value)
    assert not (tmp_path / "PWNED").exists()


# --- outer-fold results ---------------------------------------------------------------------------
def _fold_result() -> dict:
    from tunelab.ensemble import Member
    from tunelab.nested_cv import OuterFoldResult
    from tunelab.search import TrialRecord

    record = TrialRecord("outer-0", 0, "linear", "ok", 0.8, 0.01, 0.2, LINEAR, "", [0.8, 0.8])
    member = Member(LINEAR, 1.0, 0, "linear")
    return OuterFoldResult(0, 0.8, 0.8, LINEAR, 40, 20, [record], [member]).to_dict()


FOLD_DAMAGE: dict[str, Callable[[dict], None]] = {
    "score as text": lambda d: d.update(score="0.9"),
    "score NaN": lambda d: d.update(score=float("nan")),
    "text fold score": lambda d: d["trials"][0].update(fold_scores=["0.8", 0.8]),
    "trial status unknown": lambda d: d["trials"][0].update(status="great"),
    "size as text": lambda d: d.update(train_size="40"),
    "weight as text": lambda d: d["members"][0].update(weight="1"),
    "config a number": lambda d: d.update(best_config=5),
    "config without a family": lambda d: d.update(best_config={"model": {}}),
    "another fold": lambda d: d.update(fold=1),
    "missing key": lambda d: d.pop("trials"),
    "extra key": lambda d: d.update(evil=1),
}


@pytest.mark.parametrize("damage", list(FOLD_DAMAGE), ids=list(FOLD_DAMAGE))
def test_damaged_outer_fold_result_is_refused_naming_the_file(damage, tmp_path):
    from tunelab.nested_cv import read_fold_result

    path = tmp_path / "outer-0.result.json"
    path.write_text(json.dumps(_fold_result()))
    assert read_fold_result(path, 0).score == 0.8
    data = _fold_result()
    FOLD_DAMAGE[damage](data)
    path.write_text(json.dumps(data))
    with pytest.raises(CheckpointError) as error:
        read_fold_result(path, 0)
    assert str(path) in str(error.value) and "\n" not in str(error.value)


def _damaged_run_file(name: str, damage: Callable[[Ctx], str]) -> Callable[[Ctx], list[str]]:
    def build(c: Ctx) -> list[str]:
        run_dir = c.home / "runs" / "resume-me"
        run_dir.mkdir(parents=True)
        (run_dir / name).write_text(damage(c))
        return _run(c, good_frame(), "--run-id", "resume-me", "--no-prefect")

    return build


def _text_score_result(c: Ctx) -> str:
    return json.dumps({**_fold_result(), "score": "0.9"})


def _text_fold_score_trials(c: Ctx) -> str:
    path = _valid_checkpoint(c.tmp)
    data = json.loads(path.read_text())
    _result(data).update(fold_scores=["high", 0.5])
    return json.dumps(data)


RUN_FILE_DAMAGE = {
    "outer-fold score as text": ("outer-0.result.json", _text_score_result),
    "trial fold score as text": ("outer-0.trials.json", _text_fold_score_trials),
}


@pytest.mark.parametrize("damage", list(RUN_FILE_DAMAGE), ids=list(RUN_FILE_DAMAGE))
def test_resume_refuses_a_damaged_run_file_with_one_line(damage, ctx, capsys):
    name, content = RUN_FILE_DAMAGE[damage]
    code = cli(_damaged_run_file(name, content)(ctx))
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err, err[-2000:]
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and name in errors[0], err


# --- storage failures ---
@pytest.mark.parametrize("code, text", [(errno.ENOSPC, "No space"), (errno.EROFS, "Read-only")])
def test_full_or_read_only_disk_is_one_line_and_changes_nothing(
    ctx, capsys, monkeypatch, code, text
):
    before = snapshot(ctx.registry)

    def failing_fsync(fd):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(os, "fsync", failing_fsync)
    assert cli(["models", "promote", "m", "1", "--alias", "x", "--data-dir", str(ctx.home)]) == 2
    err = capsys.readouterr().err
    assert f"error: Could not write {str(ctx.registry / 'm' / 'aliases.json')!r}" in err
    assert text in err
    assert snapshot(ctx.registry) == before
    with pytest.raises(StorageError, match=text):
        register_tiny_model(ctx.registry)
    assert snapshot(ctx.registry) == before


# --- the few cases that need a real process -------------------------------------------------------
def _real_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tunelab.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
    )


def test_real_process_refuses_planted_model_and_runs_nothing(ctx, prefect_server):
    func, module, name, kw_args, _ = payloads(ctx.marker, ctx.tmp)["check_output via sklearn"]
    plant_model(ctx.v1, malicious_model_bytes(func, module, name, kw_args))
    # Columns named like a command: what check_output would run on these rows.
    rows = ctx.csv("rows.csv", f"touch,{ctx.marker}\n1,2\n")
    result = _real_cli(
        "predict", "--model", "m", "--data", rows, "--data-dir", str(ctx.home),
        env={"PREFECT_API_URL": prefect_server},
    )  # fmt: skip
    assert result.returncode == 2, result.stderr[-2000:]
    assert "error: Refusing to load m v1" in result.stderr
    assert "Traceback" not in result.stderr
    assert not ctx.marker.exists()


def test_real_process_with_home_set_to_a_file(tmp_path):
    home = tmp_path / "home"
    home.write_text("a file")
    result = _real_cli("models", "list", env={"TUNELAB_HOME": str(home)})
    assert result.returncode == 2
    assert result.stderr.strip().endswith("is a file, not a folder")
    assert "Traceback" not in result.stderr


def test_staging_left_by_a_killed_registration_is_cleaned_next_time(ctx):
    code = (
        "import os, signal, sys; from pathlib import Path;"
        "from tunelab.atomic import make_temp_dir; from tunelab.registry import _staging_prefix;"
        "p = make_temp_dir(Path(sys.argv[1]), _staging_prefix());"
        "(p / 'model.skops').write_bytes(b'half');"
        "os.kill(os.getpid(), signal.SIGKILL)"
    )
    killed = subprocess.run([sys.executable, "-c", code, str(ctx.registry / "m")], timeout=60)
    assert killed.returncode == -signal.SIGKILL
    assert len(list((ctx.registry / "m").glob(".staging-*"))) == 1
    live = ctx.registry / "m" / ".staging-otherhost-1-abcdefgh"  # another host's, still fresh
    live.mkdir()
    register_tiny_model(ctx.registry)
    assert [p.name for p in (ctx.registry / "m").glob(".staging-*")] == [live.name]
    assert ModelRegistry(ctx.registry).versions("m") == [1, 2]

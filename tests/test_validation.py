"""Every kind of bad input is rejected before training, with a message naming the problem."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tunelab.api import source_of
from tunelab.config import RunConfig
from tunelab.errors import DataValidationError, ParameterError, TunelabError
from tunelab.prepare import prepare_data
from tunelab.space import resolve_families


def good_frame(rows: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "x": rng.normal(size=rows),
            "colour": rng.choice(["red", "blue"], size=rows),
            "label": np.tile(["a", "b"], rows // 2),
        }
    )


def with_column(name, values, rows: int = 60) -> pd.DataFrame:
    frame = good_frame(rows)
    frame[name] = values
    return frame


def write(tmp_path, name: str, content: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(content)
    return str(path)


CASES = {
    "missing file": (lambda t: str(t / "nope.csv"), {}, "not found"),
    "unsupported file type": (lambda t: write(t, "data.xlsx", b"x"), {}, "Unsupported file type"),
    "corrupt parquet": (lambda t: write(t, "data.parquet", b"not parquet"), {}, "Could not read"),
    "empty file": (lambda t: write(t, "data.csv", b""), {}, "is empty"),
    "header only": (lambda t: write(t, "data.csv", b"x,label\n"), {}, "empty (no rows)"),
    "directory": (lambda t: str(t.joinpath("dir.csv").mkdir() or t / "dir.csv"), {}, "directory"),
    "not a table": (lambda t: [1, 2, 3], {}, "a pandas DataFrame, not list"),
    "unknown target": (lambda t: good_frame(), {"target": "labels"}, "did you mean 'label'"),
    "empty target name": (lambda t: good_frame(), {"target": ""}, "target is required"),
    "duplicate columns": (
        lambda t: good_frame().set_axis(["x", "x", "label"], axis=1),
        {},
        "Duplicate column names",
    ),
    "target all missing": (lambda t: with_column("label", np.nan), {}, "all missing"),
    "single class": (lambda t: with_column("label", "a"), {}, "single class"),
    "no feature columns": (lambda t: good_frame()[["label"]], {}, "no feature columns"),
    "constant features only": (
        lambda t: good_frame().assign(x=1.0, colour="red"),
        {},
        "constant or empty",
    ),
    "infinite feature": (
        lambda t: with_column("x", np.r_[np.inf, np.zeros(59)]),
        {},
        "infinite values",
    ),
    "infinite target": (
        lambda t: with_column("label", np.r_[np.inf, np.arange(59.0)]),
        {"task": "regression"},
        "infinite values",
    ),
    "mixed python types": (
        lambda t: with_column("colour", pd.Series([1, "two"] * 30, dtype=object)),
        {},
        "mixes types",
    ),
    "numbers with stray text": (
        lambda t: with_column("colour", ["1.5"] * 55 + ["oops"] * 5),
        {},
        "mostly numeric",
    ),
    "too few rows per class": (
        lambda t: with_column("label", ["a"] * 56 + ["b"] * 4),
        {},
        "Too few rows per class",
    ),
    "too few rows": (lambda t: good_frame(10).assign(label=np.arange(10.0)), {}, "at least 20"),
    "regression on text": (lambda t: good_frame(), {"task": "regression"}, "not numeric"),
    "binary with three classes": (
        lambda t: with_column("label", ["a", "b", "c"] * 20),
        {"task": "binary"},
        "exactly two",
    ),
    "date target": (
        lambda t: with_column("label", pd.date_range("2020-01-01", periods=60)),
        {},
        "holds dates",
    ),
    "unknown task": (lambda t: good_frame(), {"task": "ranking"}, "task='ranking'"),
    "metric for another task": (lambda t: good_frame(), {"metric": "r2"}, "not available"),
    "test_size out of range": (lambda t: good_frame(), {"test_size": 1.5}, "test_size"),
    "too few folds": (lambda t: good_frame(), {"outer_folds": 1}, "greater than or equal to 2"),
    "no trials": (lambda t: good_frame(), {"max_evals": 0}, "max_evals"),
}


def prepare(data, target: str, **options):
    """Settings are checked by RunConfig, the table by prepare_data: what every run does."""
    frame = data if isinstance(data, pd.DataFrame) else None
    source = "in-memory table" if frame is not None else source_of(data)
    return prepare_data(RunConfig.create(data=source, target=target, **options), frame=frame)


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_bad_input_is_rejected_with_a_specific_message(case, tmp_path):
    make_data, options, expected = CASES[case]
    options = {"target": "label", **options}
    with pytest.raises(TunelabError) as error:
        prepare(make_data(tmp_path), options.pop("target"), **options)
    assert expected in str(error.value)
    assert isinstance(error.value, (DataValidationError, ParameterError))


def test_unknown_family_is_rejected():
    with pytest.raises(ParameterError, match="Unknown model families: catboost"):
        resolve_families(["catboost", "linear"], "binary")


def test_features_read_from_a_csv_are_one_block_per_dtype(tmp_path):
    """pandas reads each CSV column into a block of its own; the run's features are
    consolidated, so selecting a fold's rows is one operation per dtype, not per column."""
    frame = pd.DataFrame(np.random.default_rng(0).normal(size=(40, 300)))
    frame.columns = [f"f{i}" for i in range(300)]
    frame["colour"] = ["red", "blue"] * 20
    frame["y"] = [0, 1] * 20
    frame.to_csv(tmp_path / "wide.csv", index=False)
    config = RunConfig.create(data=str(tmp_path / "wide.csv"), target="y")
    features = prepare_data(config).features
    assert features.shape == (40, 301)
    assert features._mgr.nblocks == len(set(features.dtypes))


def test_rows_with_missing_target_are_dropped_not_rejected():
    frame = good_frame(62)
    frame.loc[[0, 1], "label"] = np.nan
    prepared = prepare(frame, "label")
    assert prepared.dropped_target_rows == 2
    assert len(prepared.features) == 60 and prepared.task == "binary"


def test_class_labels_may_mix_digits_and_words():
    """Real data (UCI house votes) labels one party "0" and the other "democrat"."""
    frame = good_frame().assign(label=["0", "democrat"] * 30)
    prepared = prepare(frame, "label")
    assert prepared.task == "binary" and set(prepared.target) == {"0", "democrat"}


def test_task_and_metric_are_inferred():
    assert prepare(good_frame(), "label").metric == "roc_auc"
    numeric = good_frame().assign(label=np.linspace(0, 1, 60))
    assert prepare(numeric, "label").task == "regression"
    three = good_frame().assign(label=[0, 1, 2] * 20)
    assert prepare(three, "label").task == "multiclass"

"""Splits that match the data: groups, time order and row weights, checked on real runs.

Each run is real (real fits, real registry) and tiny; what the run recorded (its card and the
split records under ``runs/<id>/splits/``) is what is checked, not how it was computed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

import tunelab
from tunelab.errors import TunelabError
from tunelab.keys import with_key_columns
from tunelab.store import open_store

FAST = dict(
    outer_folds=2, inner_folds=2, max_evals=2, n_jobs=1, ensemble_size=0, report=False
)  # fmt: skip


def split_records(data_dir: Path, run_id: str) -> dict[str, dict[str, Any]]:
    folder = data_dir / "runs" / run_id / "splits"
    return {path.name: json.loads(path.read_text()) for path in sorted(folder.glob("*.json"))}


def leaky_groups(seed: int = 0) -> pd.DataFrame:
    """200 patients x 20 near-identical rows; each patient's label is a coin flip."""
    rng = np.random.default_rng(seed)
    centres, labels = rng.normal(size=(200, 5)), rng.integers(0, 2, 200)
    patient = np.repeat(np.arange(200), 20)
    rows = centres[patient] + rng.normal(scale=0.01, size=(4000, 5))
    frame = pd.DataFrame(rows, columns=[f"x{i}" for i in range(5)])
    return frame.assign(patient=[f"p{i}" for i in patient], label=labels[patient])


def test_group_column_keeps_each_patient_on_one_side_and_the_estimate_honest(tmp_path):
    """The leak test: memorising patients scores ~1.0 on random folds, ~0.5 on grouped ones.

    With 200 coin-flip labels the grouped AUCs scatter around 0.5 (sd about 0.05 for the
    nested-CV mean, 0.09 for the 40 test patients); data and run are seeded.
    """
    frame = leaky_groups()
    options = dict(families=["extra_trees"], refit_full=False, data_dir=str(tmp_path), **FAST)
    leaky = tunelab.train(frame, "label", orchestrate=False, **options)
    assert leaky.outer_cv["mean"] > 0.95  # the same patient on both sides: memorised

    honest = tunelab.train(frame, "label", orchestrate=False, group_column="patient", **options)
    assert honest.outer_cv["mean"] < 0.65 and honest.test_score < 0.65
    records = split_records(tmp_path, honest.run_id)
    # held-out test, both outer folds, the inner folds of each outer search and the final one
    assert set(records) == {
        "holdout.json", "outer-0.json", "outer-1.json", "outer-0.inner.json",
        "outer-1.inner.json", "final.inner.json",
    }  # fmt: skip
    for name, record in records.items():
        assert record["kind"] == "group"
        for split in record["splits"]:
            first, second = split.values()
            assert first["groups"] and second["groups"], name
            assert not set(first["groups"]) & set(second["groups"]), name
    holdout = records["holdout.json"]["splits"][0]
    assert len(holdout["train"]["groups"]) + len(holdout["test"]["groups"]) == 200

    entry = open_store(str(tmp_path)).load(honest.name)
    columns = {c["name"]: c for c in entry.metadata["schema"]["columns"]}
    assert columns["patient"]["role"] == "dropped"  # the group id is not a feature
    assert entry.metadata["parameters"]["group_column"] == "patient"
    new_rows = frame.head(3).drop(columns=["label"])
    scored = tunelab.predict(honest.name, new_rows, data_dir=str(tmp_path))
    keyed = with_key_columns(scored, new_rows, entry.metadata["schema"])
    assert list(keyed["patient"]) == ["p0", "p0", "p0"]  # batch output keeps the group


def daily_table(days: int = 240) -> pd.DataFrame:
    """A demand-like series: trend plus weekly season plus noise, one row per day."""
    rng = np.random.default_rng(1)
    dates = pd.date_range("2024-01-01", periods=days, freq="D")
    lag = rng.normal(size=days)
    demand = 0.05 * np.arange(days) + 2 * np.sin(np.arange(days) * 2 * np.pi / 7) + lag
    frame = pd.DataFrame({"day": dates.strftime("%Y-%m-%d"), "signal": lag, "demand": demand})
    return frame.sample(frac=1.0, random_state=0)  # shuffled: order must come from the column


def test_time_column_trains_on_the_past_and_validates_on_the_future(tmp_path):
    frame = daily_table()
    result = tunelab.train(
        frame, "demand", orchestrate=False, time_column="day", gap=3, families=["linear"],
        data_dir=str(tmp_path), **FAST,
    )  # fmt: skip
    card = open_store(str(tmp_path)).load(result.name).metadata
    train_period, test_period = card["data"]["train_period"], card["data"]["test_period"]
    assert train_period[0].startswith("2024-01-01") and test_period[1].startswith("2024-08-27")
    assert train_period[1] < test_period[0]  # ISO-8601 strings order like the dates
    dates = pd.to_datetime(frame["day"])
    test_rows = card["data"]["test_rows"]
    assert test_rows == 48 and pd.Timestamp(test_period[0][:10]) == dates.sort_values().iloc[-48]

    records = split_records(tmp_path, result.run_id)
    assert records["holdout.json"]["splits"][0]["test"]["period"] == test_period
    folds = [s for n, r in records.items() if n != "holdout.json" for s in r["splits"]]
    assert len(folds) == 2 + 2 * 2 + 2  # outer folds, their inner folds, the final search's
    for split in folds:
        trained, validated = split["train"]["period"], split["validation"]["period"]
        apart = pd.Timestamp(validated[0]) - pd.Timestamp(trained[1])
        assert apart == pd.Timedelta(days=4)  # the gap of 3 days left out, then validation


def flipped_copies(rows: int = 600) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A clean table, and the same with a weight-0 copy of every row whose label is flipped."""
    rng = np.random.default_rng(2)
    X = rng.normal(size=(rows, 3))
    label = (X[:, 0] + 0.5 * X[:, 1] + 0.1 * rng.normal(size=rows) > 0).astype(int)
    clean = pd.DataFrame(X, columns=["a", "b", "c"]).assign(label=label)
    noisy = pd.concat(
        [clean.assign(w=1.0), clean.assign(w=0.0, label=1 - clean["label"])], ignore_index=True
    )
    return clean, noisy


def test_weight_column_makes_weight_zero_rows_count_for_nothing(tmp_path):
    clean, noisy = flipped_copies()
    options = dict(families=["linear"], data_dir=str(tmp_path), **FAST)
    baseline = tunelab.train(clean, "label", orchestrate=False, **options)
    weighted = tunelab.train(noisy, "label", orchestrate=False, weight_column="w", **options)
    unweighted = tunelab.train(noisy.drop(columns=["w"]), "label", orchestrate=False, **options)
    assert baseline.test_score > 0.95
    assert weighted.test_score == pytest.approx(baseline.test_score, abs=0.01)
    assert weighted.outer_cv["mean"] == pytest.approx(baseline.outer_cv["mean"], abs=0.01)
    assert unweighted.test_score < 0.8  # every row also appears with the other label

    entry = open_store(str(tmp_path)).load(weighted.name, weighted.version)
    assert entry.metadata["metrics"]["weighted_by"] == "w"
    columns = {c["name"]: c["role"] for c in entry.metadata["schema"]["columns"]}
    assert columns["w"] == "dropped"
    # The registered test score is the weighted score of the model on the clean test rows.
    test = noisy.loc[noisy["w"] > 0].sample(200, random_state=0)
    clean_auc = roc_auc_score(test["label"], entry.model.predict_proba(test)[:, 1])
    assert clean_auc > 0.95


@pytest.mark.parametrize("family", ["lightgbm", "xgboost"])
def test_boosters_fit_and_stop_on_weighted_rows(family):
    from tunelab.models import get_family
    from tunelab.pipelines import build_pipeline, infer_schema
    from tunelab.weights import fit_weighted

    _, noisy = flipped_copies(rows=400)
    X, y = noisy.drop(columns=["label"]), noisy["label"]
    schema = infer_schema(X.drop(columns=["w"]), y, "binary")
    config = {
        "model": {"family": family, **get_family(family).portfolio("binary")[0]},
        "feature_selection": {"method": "none"},
    }
    clean = noisy["w"] > 0
    weighted = fit_weighted(build_pipeline(config, schema, seed=0), X, y, noisy["w"])
    plain = build_pipeline(config, schema, seed=0).fit(X, y)
    auc = {
        name: roc_auc_score(y[clean], model.predict_proba(X[clean])[:, 1])
        for name, model in (("weighted", weighted), ("plain", plain))
    }
    assert auc["weighted"] > 0.95 and auc["plain"] < 0.8, auc


def test_class_weight_is_a_searched_choice_for_classifiers():
    from tunelab.space import describe_space

    families = ["linear", "lightgbm", "random_forest", "extra_trees"]
    space = describe_space("binary", families)["families"]
    for family in families:
        assert None in space[family]["class_weight"]["options"], family
        assert "balanced" in space[family]["class_weight"]["options"], family
    regression = describe_space("regression", families)["families"]
    assert all("class_weight" not in regression[f] for f in families)


def bad_tables() -> list[tuple[dict[str, Any], pd.DataFrame, str]]:
    frame = leaky_groups().head(400)
    few = frame.assign(patient=np.where(frame.index < 200, "a", "b"))
    words = frame.assign(when=["soon"] * 400)
    weights = frame.assign(w=1.0)
    return [
        ({"group_column": "nobody"}, frame, "group_column 'nobody' is not a column"),
        ({"group_column": "patient"}, few, "has 2 groups; 2 outer x 2 inner folds"),
        ({"time_column": "when"}, words, "must hold ISO-8601 dates or numbers"),
        ({"time_column": "patient"}, frame, "must hold ISO-8601 dates or numbers"),
        ({"weight_column": "w"}, weights.assign(w=-1.0), "negative weights"),
        ({"weight_column": "w"}, weights.assign(w=np.nan), "missing values"),
        ({"weight_column": "w"}, weights.assign(w=0.0), "is all zero"),
        ({"weight_column": "patient"}, frame, "must hold numbers"),
        ({"group_column": "patient", "time_column": "x0"}, frame, "not both"),
        # sorted by label: the earliest rows are all one class, so no fold could be fitted
        (
            {"time_column": "t"},
            frame.assign(t=frame["label"] * 1000 + np.arange(400)),
            "earliest training part .* holds only class 0",
        ),
    ]


@pytest.mark.parametrize("settings, frame, message", bad_tables())
def test_bad_split_settings_fail_before_any_work(settings, frame, message, tmp_path):
    with pytest.raises(TunelabError, match=message):
        tunelab.train(frame, "label", orchestrate=False, data_dir=str(tmp_path), **FAST, **settings)
    assert not (tmp_path / "registry").exists() or not any((tmp_path / "registry").iterdir())
    assert not (tmp_path / "runs").exists()


def test_cli_takes_the_split_options_and_explains_a_bad_one(tmp_path):
    path = tmp_path / "visits.csv"
    leaky_groups().head(400).to_csv(path, index=False)
    base = [sys.executable, "-m", "tunelab.cli", "run", "--data", str(path), "--target", "label"]
    bad = subprocess.run(
        [*base, "--group-column", "patient", "--time-column", "x0", "--no-prefect"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert bad.stderr.startswith("error: ") and "not both" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1


def test_prefect_flow_passes_the_split_options_through(prefect_server, tmp_path):
    _, noisy = flipped_copies(rows=200)
    noisy["shop"] = [f"s{i % 40}" for i in range(len(noisy))]
    result = tunelab.train(
        noisy, "label", group_column="shop", weight_column="w", families=["linear"],
        data_dir=str(tmp_path), **FAST,
    )  # fmt: skip
    card = open_store(str(tmp_path)).load(result.name).metadata
    assert card["parameters"]["group_column"] == "shop"
    assert card["parameters"]["weight_column"] == "w"
    assert card["metrics"]["weighted_by"] == "w"
    manifest = json.loads((tmp_path / "runs" / result.run_id / "run.json").read_text())
    assert manifest["group_column"] == "shop" and manifest["weight_column"] == "w"
    holdout = split_records(tmp_path, result.run_id)["holdout.json"]["splits"][0]
    assert not set(holdout["train"]["groups"]) & set(holdout["test"]["groups"])


@pytest.mark.parametrize("task", ["binary", "regression"])
def test_a_blend_is_fitted_with_the_row_weights(task):
    """Soft-voting blends pass weights to their members: a regression member pipeline takes
    them only as ``model__sample_weight``, so tunelab fits those members itself."""
    from tunelab.pipelines import infer_schema
    from tunelab.pipelines.ensemble import build_blend
    from tunelab.weights import fit_weighted

    _, noisy = flipped_copies(rows=300)
    if task == "regression":  # the flipped copies get the opposite target
        noisy["label"] = np.where(noisy["w"] > 0, 1.0, -1.0) * (noisy["a"] + noisy["b"])
    X, y = noisy.drop(columns=["label"]), noisy["label"]
    schema = infer_schema(X.drop(columns=["w"]), y, task)
    members = [
        ({"model": {"family": family, **params}, "feature_selection": {"method": "none"}}, 0.5)
        for family, params in (
            ("linear", {"C": 1.0, "class_weight": None} if task == "binary" else {"alpha": 1.0}),
            ("lightgbm", {**_lightgbm_defaults(task)}),
        )
    ]
    blend = fit_weighted(build_blend(members, schema, seed=0), X, y, noisy["w"])
    clean = noisy["w"] > 0
    if task == "binary":
        quality = roc_auc_score(y[clean], blend.predict_proba(X[clean])[:, 1])
    else:
        quality = float(np.corrcoef(y[clean], blend.predict(X[clean]))[0, 1])
    assert quality > 0.95


def _lightgbm_defaults(task: str) -> dict[str, Any]:
    from tunelab.models import get_family

    return get_family("lightgbm").portfolio(task)[0]


def test_a_class_that_appears_only_late_is_scored_not_fatal(tmp_path):
    """Forward chaining trains the first folds on early rows only; a class that first appears
    later (snow after the first winter) is a class those models give probability 0."""
    rng = np.random.default_rng(3)
    days = 300
    signal = rng.normal(size=days)
    weather = np.where(signal > 0, "sun", "rain").astype(object)
    late = np.arange(days) > 200
    weather[late & (signal > 1.0)] = "snow"
    frame = pd.DataFrame(
        {
            "day": pd.date_range("2024-01-01", periods=days, freq="D").strftime("%Y-%m-%d"),
            "signal": signal,
            "weather": weather,
        }
    )
    result = tunelab.train(
        frame, "weather", orchestrate=False, time_column="day", families=["linear"],
        data_dir=str(tmp_path), **FAST,
    )  # fmt: skip
    assert result.metric == "neg_log_loss"
    assert all(np.isfinite(result.outer_cv["scores"])) and np.isfinite(result.test_score)

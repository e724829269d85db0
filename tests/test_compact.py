"""Large tables held compact: smaller copies, the same predictions on the user's own dtypes."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from tests.test_pipelines import TARGETS, mixed_frame
from tunelab.compact import COMPACT_ROWS, compact_frame
from tunelab.pipelines import build_pipeline, infer_schema
from tunelab.pipelines.schema import COMPACT_KEY
from tunelab.prepare import held_features
from tunelab.space import portfolio_configs


def compact_schema(frame: pd.DataFrame, y: pd.Series, task: str):
    schema = infer_schema(frame, y, task)
    return replace(schema, extra={**schema.extra, COMPACT_KEY: True})


def test_a_large_table_is_held_in_float32_and_category_codes_a_small_one_as_it_came():
    rng = np.random.default_rng(0)
    rows = COMPACT_ROWS + 1
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=rows),
            "n": rng.integers(0, 9, rows),
            "city": rng.choice(["Oslo", "Lima", None], rows),
        }
    )
    held = held_features(frame)
    assert dict(held.dtypes.astype(str)) == {"x": "float32", "n": "int64", "city": "category"}
    assert held.memory_usage(deep=True).sum() < 0.5 * frame.memory_usage(deep=True).sum()
    np.testing.assert_array_equal(held["x"], frame["x"].astype("float32"))
    assert held["city"].astype(object).fillna("-").tolist() == frame["city"].fillna("-").tolist()
    from tunelab.splits import SplitPlan

    frame["when"] = 1.7e9 + np.arange(rows, dtype=float)  # epoch seconds: float32 merges them
    kept = held_features(frame, SplitPlan(time_column="when", weight_column="x"))
    assert str(kept["when"].dtype) == "float64" and kept["when"].is_unique
    assert str(kept["x"].dtype) == "float64" and str(kept["city"].dtype) == "category"
    frame = frame.drop(columns=["when"])
    small = held_features(frame.head(1000))
    assert list(small.dtypes) == list(frame.dtypes)
    pd.testing.assert_frame_equal(small, frame.head(1000))


@pytest.mark.parametrize("family", ["lightgbm", "linear"])
@pytest.mark.parametrize("task", list(TARGETS))
def test_a_compact_pipeline_predicts_the_users_float64_rows_as_its_own(task, family):
    """Fitted on the compact frame, it predicts the same whether it is given that frame or
    the original float64 and text columns: its first step casts numbers to float32."""
    frame = mixed_frame(300)
    y = pd.Series(TARGETS[task](frame), name="y")
    compact = compact_frame(frame)
    (config, *_) = portfolio_configs(task, [family])
    model = build_pipeline(config, compact_schema(compact, y, task), seed=0).fit(compact, y)
    if task == "regression":
        np.testing.assert_array_equal(model.predict(frame), model.predict(compact))
    else:
        np.testing.assert_array_equal(model.predict_proba(frame), model.predict_proba(compact))
    steps = model.estimator_ if task != "regression" else model
    assert steps[:1].transform(frame).dtype == np.float32


def test_a_category_column_is_cleaned_as_its_text_would_be():
    from tunelab.pipelines.transformers import CategoryCleaner

    text = pd.DataFrame({"c": ["b", None, "a", "b", "c"], "d": ["x", "y", None, "x", "x"]})
    cleaner = CategoryCleaner().fit(text)
    expected = cleaner.transform(text)
    got = cleaner.transform(text.astype("category"))
    pd.testing.assert_frame_equal(got, expected)
    assert got["c"].tolist() == ["b", "__missing__", "a", "b", "c"]


def test_a_compact_model_round_trips_through_the_registry(tmp_path):
    from tunelab.registry import ModelRegistry

    frame = mixed_frame(200)
    y = pd.Series(TARGETS["binary"](frame), name="y")
    compact = compact_frame(frame)
    (config, *_) = portfolio_configs("binary", ["lightgbm"])
    model = build_pipeline(config, compact_schema(compact, y, "binary"), seed=0).fit(compact, y)
    registry = ModelRegistry(tmp_path)
    registry.register("compact", model, {"task": "binary"}, pd.DataFrame({"t": [0]}))
    loaded = registry.load("compact").model
    np.testing.assert_array_equal(loaded.predict_proba(frame), model.predict_proba(frame))


def test_a_run_on_a_large_table_fits_compact_and_runs_its_outer_folds_one_at_a_time(
    tmp_path, monkeypatch
):
    """A real run, in process, on a table just above the size: its model was fitted on
    float32 numbers and still predicts the user's CSV rows; no outer-fold trial overlaps
    another fold's, because trials on as many rows as a threaded booster's run alone (that
    size lowered here below the trials' 45,360 rows, so the suite need not fit 200,000);
    the model the test score describes ships, not a refit on all rows."""
    import tunelab
    import tunelab.cores
    from tunelab.store import open_store

    monkeypatch.setattr(tunelab.cores, "THREADED_BOOSTER_ROWS", 15_000)

    rows = 126_000  # 100,800 training rows: above LARGE_ROWS too
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"x": rng.normal(size=rows), "z": rng.normal(size=rows)})
    frame["shop"] = rng.choice(["north", "south", "east"], rows)
    frame["y"] = np.where(frame["x"] + (frame["shop"] == "east") + rng.logistic(size=rows) > 0,
                          "yes", "no")  # fmt: skip
    csv = tmp_path / "large.csv"
    frame.to_csv(csv, index=False)
    result = tunelab.train(
        str(csv), "y", orchestrate=False, data_dir=str(tmp_path / "reg"), families=["linear"],
        max_evals=2, outer_folds=2, inner_folds=2, report=False, n_jobs=2,
        ensemble_size=0,
    )  # fmt: skip
    assert result.refit_full is False
    model = tunelab.load_model(result.name, data_dir=str(tmp_path / "reg")).model
    assert model.estimator_[:1].transform(frame.head(5)).dtype == np.float32
    assert model.predict_proba(frame.drop(columns=["y"]).head(50)).shape == (50, 2)
    board = open_store(str(tmp_path / "reg")).leaderboard(result.name, result.version)
    spans = {
        search: (pd.Timestamp(part["started_at"].min()), pd.Timestamp(part["finished_at"].max()))
        for search, part in board.groupby("search")
    }
    assert spans["outer-0"][1] <= spans["outer-1"][0]


@pytest.mark.parametrize("scale", [False, True])
@pytest.mark.parametrize("task", list(TARGETS))
def test_a_compact_preprocessor_gives_the_usual_numbers_in_float32(task, scale):
    """Its own steps (one array for the imputed numbers, category codes for the target
    encoder, one encoder per high-cardinality column) change how much it holds, not what
    it computes: the same matrix as the usual preprocessor's on the same frame."""
    from tunelab.pipelines.preprocessing import make_preprocessor

    frame = mixed_frame(400)
    frame["town"] = [f"town_{i % 45}" for i in range(400)]  # a second high-cardinality one
    y = pd.Series(TARGETS[task](frame), name="y")
    compact = compact_frame(frame)
    schema = compact_schema(compact, y, task)
    usual = replace(schema, extra={})
    assert sum(c.role == "high_cardinality" for c in schema.columns) == 2
    encoded = y if task == "regression" else pd.Series(pd.factorize(y)[0])
    got = make_preprocessor(schema, scale=scale, seed=0).fit_transform(compact, encoded)
    expected = make_preprocessor(usual, scale=scale, seed=0).fit_transform(compact, encoded)
    assert got.dtype == np.float32 and got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_a_compact_tables_boosters_reorder_their_rows_and_xgboost_caches_fewer_histograms():
    from tunelab.models.boosting import COMPACT_HIST_CACHE_NODES

    frame = mixed_frame(300)
    y = pd.Series(TARGETS["binary"](frame), name="y")
    compact = compact_frame(frame)
    for family in ("xgboost", "lightgbm"):
        (config, *_) = portfolio_configs("binary", [family])
        for schema, lean in ((compact_schema(compact, y, "binary"), True),
                             (infer_schema(frame, y, "binary"), False)):  # fmt: skip
            booster = build_pipeline(config, schema, seed=0).estimator.steps[-1][1]
            assert booster.reorder_rows is lean
            cache = booster.get_params().get("max_cached_hist_node")
            assert cache == (COMPACT_HIST_CACHE_NODES if lean and family == "xgboost" else None)

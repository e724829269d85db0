"""Batch prediction from the registry, and the schema check that guards it."""

from __future__ import annotations

import pandas as pd
import pytest

from tunelab.api import predict
from tunelab.errors import DataValidationError
from tunelab.keys import with_key_columns
from tunelab.pipelines import infer_schema
from tunelab.scoring import check_prediction_input


@pytest.fixture
def new_rows(trained_churn) -> pd.DataFrame:
    return pd.read_csv(trained_churn["csv"]).drop(columns=["churned"]).tail(40)


def test_predict_flow_writes_predictions_and_probabilities(trained_churn, new_rows, tmp_path):
    from tunelab.flows.prediction import predict_flow

    source = tmp_path / "new.parquet"
    new_rows.to_parquet(source)
    result = predict_flow(
        model_name="churn",
        data=str(source),
        version=str(trained_churn["version"]),
        output=str(tmp_path / "scored.csv"),
        data_dir=str(trained_churn["data_dir"]),
    )
    scored = pd.read_csv(result["output"], index_col=0)
    assert result["rows"] == len(scored) == 40
    assert list(scored.index) == list(new_rows.index)
    assert set(scored["prediction"]) <= {"yes", "no"}
    assert (scored["proba_yes"] + scored["proba_no"]).round(6).eq(1).all()
    assert ((scored["proba_yes"] > 0.5) == (scored["prediction"] == "yes")).all()


def test_predict_flow_default_output_lands_in_the_data_dir(trained_churn, new_rows, tmp_path):
    from tunelab.flows.prediction import predict_flow

    source = tmp_path / "new.csv"
    new_rows.to_csv(source, index=False)
    result = predict_flow(
        model_name="churn", data=str(source), data_dir=str(trained_churn["data_dir"])
    )
    assert result["output"].startswith(str(trained_churn["data_dir"] / "predictions"))


@pytest.mark.parametrize(
    "change, message",
    [
        (
            lambda f: f.drop(columns=["tenure_months"]),
            "missing columns the model needs: 'tenure_months'",
        ),
        (lambda f: f.assign(coupon="x"), "not trained on: 'coupon'"),
        (lambda f: f.assign(tenure_months="long"), "'tenure_months' must be numeric"),
        (lambda f: f.assign(signup_date="last spring"), "'signup_date' must hold ISO-8601 dates"),
        (lambda f: f.assign(monthly_charges=float("inf")), "infinite values"),
        (lambda f: f.head(0), "prediction table is empty"),
    ],
    ids=["missing column", "extra column", "wrong type", "bad date", "infinite", "empty"],
)
def test_prediction_input_is_checked_against_the_schema(churn_schema, change, message):
    """A unit check: the schema is inferred from the table, no model needs training."""
    schema, rows = churn_schema
    with pytest.raises(DataValidationError, match=message):
        check_prediction_input(change(rows), schema)


@pytest.fixture(scope="module")
def churn_schema(churn_csv):
    frame = pd.read_csv(churn_csv)
    features, target = frame.drop(columns=["churned"]), frame["churned"]
    return infer_schema(features, target, "binary"), features.tail(40)


def test_key_columns_are_kept_in_the_output(churn_schema):
    schema, rows = churn_schema
    predictions = pd.DataFrame({"prediction": ["no"] * len(rows)}, index=rows.index)
    out = with_key_columns(predictions, rows, schema.to_dict())
    assert list(out.columns) == ["customer_id", "prediction"]
    assert out["customer_id"].tolist() == rows["customer_id"].tolist()
    chosen = with_key_columns(predictions, rows, schema.to_dict(), keep=["plan"])
    assert list(chosen.columns) == ["plan", "prediction"]
    with pytest.raises(DataValidationError, match="not in the prediction table: 'nope'"):
        with_key_columns(predictions, rows, schema.to_dict(), keep=["nope"])


def test_extra_columns_can_be_ignored_and_dropped_columns_are_optional(trained_churn, new_rows):
    data_dir = str(trained_churn["data_dir"])
    with_extra = predict(
        "churn", new_rows.assign(coupon="x"), data_dir=data_dir, extra_columns="ignore"
    )
    without_id = predict("churn", new_rows.drop(columns=["customer_id"]), data_dir=data_dir)
    pd.testing.assert_frame_equal(with_extra, without_id)


# --- one pass, in chunks (issue 19) ------------------------------------------------------------
FAMILY_CONFIGS = {
    "linear": {"C": 1.0},
    "knn": {"n_neighbors": 7, "weights": "distance"},
    "random_forest": {"n_estimators": 30, "max_depth": 6, "min_samples_leaf": 2},
    "lightgbm": {"n_estimators": 40, "learning_rate": 0.1, "num_leaves": 15},
    "xgboost": {"n_estimators": 40, "learning_rate": 0.1, "max_depth": 4},
}


@pytest.mark.parametrize("task", ["binary", "multiclass"])
@pytest.mark.parametrize("family", list(FAMILY_CONFIGS))
def test_one_pass_gives_what_predict_and_predict_proba_gave(churn_csv, family, task):
    """The label is taken from predict_proba (argmax over classes_); it must be what the
    model's own predict says, for every family, as the two calls used to give."""
    from tunelab.pipelines import build_pipeline, normalise_config
    from tunelab.scoring import predict_frame
    from tunelab.store import RegisteredModel

    frame = pd.read_csv(churn_csv)
    target = "churned" if task == "binary" else "plan"
    features, y = frame.drop(columns=[target]), frame[target]
    schema = infer_schema(features, y, task)
    config = {"model": {"family": family, **FAMILY_CONFIGS[family]}}
    config = normalise_config({**config, "feature_selection": {"method": "none"}}, task)
    model = build_pipeline(config, schema, seed=0).fit(features, y)
    entry = RegisteredModel("m", 1, ".", {"schema": schema.to_dict(), "task": task}, model)
    got = predict_frame(entry, features)
    assert (got["prediction"].to_numpy() == model.predict(features)).all()
    probabilities = model.predict_proba(features)
    for i, label in enumerate(model.classes_):
        assert (got[f"proba_{label}"].to_numpy() == probabilities[:, i]).all()


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_chunked_prediction_writes_what_a_whole_table_gives(
    trained_churn, new_rows, suffix, tmp_path
):
    from tunelab.batch import predict_source
    from tunelab.store import open_store
    from tunelab.tables import write_table

    entry = open_store(str(trained_churn["data_dir"])).load("churn", "latest")
    source = tmp_path / "rows.csv"
    new_rows.to_csv(source, index=False)  # customer_id is the key column copied to the output
    whole = predict("churn", pd.read_csv(source), data_dir=str(trained_churn["data_dir"]))
    expected = tmp_path / f"whole{suffix}"
    write_table(with_key_columns(whole, pd.read_csv(source), entry.metadata["schema"]), expected)
    chunked = tmp_path / f"chunked{suffix}"
    result = predict_source(entry, str(source), chunked, chunk_rows=7)
    assert result.rows == len(new_rows) and len(result.predictions) == len(new_rows)
    read = pd.read_csv if suffix == ".csv" else pd.read_parquet
    got, want = read(chunked), read(expected)
    # Labels and keys are identical; probabilities may differ in the last bit (BLAS sums a
    # 7-row block and a 40-row one in a different order).
    pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-12, atol=1e-15)
    assert got["prediction"].tolist() == want["prediction"].tolist()


def test_a_bad_row_in_a_later_chunk_leaves_no_output(trained_churn, new_rows, tmp_path):
    from tunelab.batch import predict_source
    from tunelab.store import open_store

    entry = open_store(str(trained_churn["data_dir"])).load("churn", "latest")
    rows = new_rows.astype({"tenure_months": object})
    rows.iloc[25, rows.columns.get_loc("tenure_months")] = "long"
    source = tmp_path / "rows.csv"
    rows.to_csv(source, index=False)
    output = tmp_path / "scored.csv"
    with pytest.raises(DataValidationError, match="'tenure_months' must be numeric"):
        predict_source(entry, str(source), output, chunk_rows=10)
    assert list(tmp_path.iterdir()) == [source]


def test_api_predict_in_chunks_equals_one_call(trained_churn, new_rows):
    from tunelab.batch import predict_in_memory
    from tunelab.store import open_store

    entry = open_store(str(trained_churn["data_dir"])).load("churn", "latest")
    whole = predict_in_memory(entry, new_rows)
    chunked = predict_in_memory(entry, new_rows, chunk_rows=6)
    pd.testing.assert_frame_equal(chunked, whole, check_exact=False, rtol=1e-12, atol=1e-15)
    assert list(chunked.index) == list(new_rows.index)

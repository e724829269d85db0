"""Batch prediction from the registry, and the schema check that guards it."""

from __future__ import annotations

import pandas as pd
import pytest

from pipelines import infer_schema
from tunelab.api import predict
from tunelab.errors import DataValidationError
from tunelab.keys import with_key_columns
from tunelab.scoring import check_prediction_input


@pytest.fixture
def new_rows(trained_churn) -> pd.DataFrame:
    return pd.read_csv(trained_churn["csv"]).drop(columns=["churned"]).tail(40)


def test_predict_flow_writes_predictions_and_probabilities(trained_churn, new_rows, tmp_path):
    from flows.prediction import predict_flow

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
    from flows.prediction import predict_flow

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

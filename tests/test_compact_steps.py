"""A compact table's preprocessing steps give exactly what the usual steps give."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler, TargetEncoder

from tunelab.pipelines.compact_steps import CategoryCodes, MedianImputer
from tunelab.pipelines.transformers import CategoryCleaner, NumericCaster, column_median


def numbers(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "a": rng.normal(size=rows).astype("float32"),
            "b": rng.normal(size=rows).astype("float32"),
            "empty": np.full(rows, np.nan, dtype="float32"),
            "count": pd.array(rng.integers(0, 5, rows), dtype="Int64"),
            "flag": rng.random(rows) < 0.5,
        }
    )
    frame.loc[rng.random(rows) < 0.1, "a"] = np.nan
    frame.loc[rng.random(rows) < 0.1, "count"] = pd.NA
    return frame


@pytest.mark.parametrize("scale", [False, True])
def test_the_median_imputer_gives_the_caster_and_imputer_output_in_one_array(scale):
    fit, later = numbers(2000, 0), numbers(500, 1)
    later.loc[:9, "b"] = np.nan  # missing now, not when fitted: imputed, no new column
    usual = [
        ("cast", NumericCaster("float32")),
        ("impute", SimpleImputer(strategy=column_median, add_indicator=True,
                                 keep_empty_features=True)),
    ]  # fmt: skip
    compact = [("impute", MedianImputer("float32"))]
    if scale:
        usual.append(("scale", StandardScaler()))
        compact.append(("scale", StandardScaler(copy=False)))
    old, new = Pipeline(usual), Pipeline(compact)
    expected, got = old.fit_transform(fit), new.fit_transform(fit)
    assert got.dtype == np.float32 and got.shape == expected.shape == (2000, 8)
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    np.testing.assert_allclose(new.transform(later), old.transform(later), rtol=1e-6)
    names = list(fit.columns)
    assert list(new.get_feature_names_out(names)) == list(old.get_feature_names_out(names))
    assert not np.isnan(later["a"]).all() and later["b"].isna().sum() == 10  # input untouched


def categories(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    text = pd.Series(rng.choice(["x", "y", "z", None, "__missing__"], rows), dtype=object)
    towns = pd.Series(rng.choice([f"t{i}" for i in range(40)], rows)).astype("category")
    return pd.DataFrame({"text": text, "town": towns, "text_as_category": text.astype("category")})


@pytest.mark.parametrize("target_type", ["binary", "multiclass", "continuous"])
def test_category_codes_give_a_target_encoder_the_encodings_of_the_cleaned_text(target_type):
    frame = categories(3000, 0)
    rng = np.random.default_rng(1)
    y = {
        "binary": rng.integers(0, 2, 3000),
        "multiclass": rng.integers(0, 3, 3000),
        "continuous": rng.normal(size=3000),
    }[target_type]
    later = frame.iloc[2000:].copy()
    later["town"] = later["town"].cat.add_categories(["new town"])
    later.iloc[:5, 1] = "new town"  # unseen when fitted: the target mean, both ways
    later.iloc[:5, 0] = "unseen"
    kind = "continuous" if target_type == "continuous" else "auto"

    def encoder(clean) -> Pipeline:
        encode = TargetEncoder(target_type=kind, random_state=0)
        return Pipeline([("clean", clean), ("encode", encode)])

    old, new = encoder(CategoryCleaner()), encoder(CategoryCodes())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # TargetEncoder's random_state
        expected = old.fit_transform(frame.iloc[:2000], y[:2000])
        got = new.fit_transform(frame.iloc[:2000], y[:2000])
    np.testing.assert_allclose(got, expected)
    np.testing.assert_allclose(new.transform(later), old.transform(later))
    names = list(frame.columns)
    assert list(new.get_feature_names_out(names)) == list(old.get_feature_names_out(names))
    codes = new.named_steps["clean"].transform(later)
    assert codes.dtype == np.int32 and (codes[:5, :2] == -1).all()
    missing = len(new.named_steps["clean"].categories_[0])
    assert (codes[later["text"].isna().to_numpy(), 0] == missing).all()
    assert (codes[(later["text"] == "__missing__").to_numpy(), 0] == missing).all()

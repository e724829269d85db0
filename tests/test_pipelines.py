"""Every family builds, fits and predicts through the real preprocessing on every task."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hyperopt.pyll.stochastic import sample

from tunelab.models import FAMILIES
from tunelab.pipelines import build_pipeline, infer_schema
from tunelab.pipelines.feature_selection import make_selector, minority_shares
from tunelab.space import build_space


def mixed_frame(rows: int = 120, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "amount": rng.normal(size=rows),
            "count": rng.integers(0, 5, size=rows),
            "flag": rng.choice([True, False], size=rows),
            "colour": rng.choice(["red", "green", "blue"], size=rows),
            "shop": [f"shop_{i % 30}" for i in range(rows)],
            "day": pd.date_range("2021-01-01", periods=rows, freq="D").strftime("%Y-%m-%d"),
        }
    )
    frame.loc[::7, "amount"] = np.nan
    frame.loc[::9, "colour"] = np.nan
    frame.loc[::11, "day"] = np.nan
    return frame


TARGETS = {
    "binary": lambda f: np.where(f["amount"].fillna(0) > 0, "up", "down"),
    "multiclass": lambda f: np.array(["a", "b", "c"])[f["count"].to_numpy() % 3],
    "regression": lambda f: f["amount"].fillna(0) * 3 + f["count"],
}


@pytest.mark.parametrize("task", list(TARGETS))
@pytest.mark.parametrize("family", list(FAMILIES))
def test_family_pipeline_fits_and_predicts(task, family):
    frame = mixed_frame()
    y = pd.Series(TARGETS[task](frame), name="y")
    schema = infer_schema(frame, y, task)
    params = {
        name: dist.low if hasattr(dist, "low") else dist.options[0]
        for name, dist in FAMILIES[family].params(task).items()
    }
    config = {"model": {"family": family, **params}, "feature_selection": {"method": "none"}}
    model = build_pipeline(config, schema, seed=0).fit(frame, y)
    unseen = mixed_frame(10, seed=1).assign(colour="purple", shop="shop_new")
    predictions = model.predict(unseen)
    assert len(predictions) == 10
    if task != "regression":
        assert set(predictions) <= set(y)
        assert np.allclose(model.predict_proba(unseen).sum(axis=1), 1)


def test_schema_roles():
    frame = mixed_frame()
    schema = infer_schema(frame, pd.Series(TARGETS["binary"](frame), name="y"), "binary")
    roles = {c.name: c.role for c in schema.columns}
    assert roles == {
        "amount": "numeric",
        "count": "numeric",
        "flag": "numeric",
        "colour": "categorical",
        "shop": "high_cardinality",
        "day": "datetime",
    }


@pytest.mark.parametrize("seed", range(5))
def test_random_configurations_from_the_space_build(seed):
    """Samples of the conditional space decode into pipelines (ints are ints, choices valid)."""
    frame = mixed_frame()
    y = pd.Series(TARGETS["binary"](frame), name="y")
    schema = infer_schema(frame, y, "binary")
    config = sample(build_space("binary", list(FAMILIES)), rng=np.random.default_rng(seed))
    model = build_pipeline(config, schema, seed=seed).fit(frame, y)
    assert model.predict(frame).shape == (len(frame),)


def test_near_constant_filter_is_scale_free_and_never_empties():
    """Columns in small units (variance ~0.002) stay; constant and rare-value columns go."""
    rng = np.random.default_rng(0)
    tiny_scale = rng.normal(scale=0.05, size=(200, 3))
    constant = np.zeros((200, 1))
    rare = np.r_[np.ones(2), np.zeros(198)][:, None]
    X = np.hstack([tiny_scale, constant, rare])
    selector = make_selector({"method": "near_constant", "threshold": 0.05}, "binary", seed=0)
    assert selector.fit(X).get_support().tolist() == [True, True, True, False, False]

    only_constant = make_selector({"method": "near_constant", "threshold": 0.05}, "binary", 0)
    assert only_constant.fit_transform(np.hstack([constant, rare])).shape == (200, 1)


def test_minority_shares_of_all_columns_match_counting_each_column(monkeypatch):
    """The vectorised count equals np.unique's per column, missing values counted as one,
    also when the columns go in blocks (as a large table's do)."""
    import tunelab.pipelines.feature_selection as selection

    rng = np.random.default_rng(0)
    X = rng.integers(0, 4, size=(37, 9)).astype(float)
    X[rng.random(X.shape) < 0.3] = np.nan
    X[:, 0] = np.nan  # all missing: one value, nothing differs
    X[:, 1] = 5.0
    per_column = []
    for column in X.T:
        _, counts = np.unique(column, return_counts=True, equal_nan=True)
        per_column.append(1.0 - counts.max() / len(column))
    np.testing.assert_allclose(minority_shares(X), per_column)
    assert minority_shares(X)[:2].tolist() == [0.0, 0.0]
    assert minority_shares(np.empty((0, 3))).tolist() == [0.0, 0.0, 0.0]
    monkeypatch.setattr(selection, "SHARES_CELLS_AT_ONCE", 2 * 37)  # blocks of 2 columns
    np.testing.assert_allclose(minority_shares(X), per_column)


def test_univariate_scores_by_blocks_of_columns_equal_scoring_the_whole_matrix(monkeypatch):
    """A large table's F statistics are taken a block of columns at a time (no float64 copy
    of the whole matrix per class); each column's statistic is its own, so they are equal
    up to the rounding of float32 sums.
    float32 rows reach the near-constant filter without a float64 copy, with the same shares."""
    import warnings

    from sklearn.feature_selection import f_classif, f_regression

    import tunelab.pipelines.feature_selection as selection

    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 7)).astype(np.float32)
    X[:, 3] = 1.0  # constant: the same NaN/inf statistic both ways
    labels, target = rng.integers(0, 3, 400), rng.normal(size=400)
    monkeypatch.setattr(selection, "SHARES_CELLS_AT_ONCE", 2 * 400)  # blocks of 2 columns
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pairs = [
            (selection.f_classif_by_columns(X, labels), f_classif(X, labels)),
            (selection.f_regression_by_columns(X, target), f_regression(X, target)),
        ]
    for got, expected in pairs:
        for mine, theirs in zip(got, expected, strict=True):
            np.testing.assert_allclose(mine, theirs, rtol=1e-5)  # float32 sums' rounding
    filtered = selection.NearConstantFilter(threshold=0.01).fit(X)
    np.testing.assert_array_equal(filtered.minority_share_, minority_shares(X.astype(float)))
    assert filtered.transform(X).dtype == np.float32


def test_near_constant_selection_fits_small_scale_regression_data():
    """The old absolute variance threshold failed every trial on data like this."""
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(rng.normal(scale=0.05, size=(150, 4)), columns=list("abcd"))
    y = pd.Series(frame["a"] * 10 + rng.normal(size=150), name="y")
    schema = infer_schema(frame, y, "regression")
    config = {
        "model": {"family": "random_forest", "n_estimators": 20},
        "feature_selection": {"method": "near_constant", "threshold": 0.05},
    }
    model = build_pipeline(config, schema, seed=0).fit(frame, y)
    assert model.named_steps["select"].get_support().all()
    assert model.score(frame, y) > 0.5


@pytest.mark.parametrize("family", ["random_forest", "extra_trees"])
def test_forests_on_a_wide_table_examine_a_bounded_number_of_features_per_split(family):
    """A share of 0.6 of 2,000 columns would examine 1,200 features per split; the cap keeps
    it at 256, still fits after feature selection left fewer columns, and leaves a narrow
    table's share as sampled."""
    from tunelab.models.forests import MAX_SPLIT_FEATURES

    rng = np.random.default_rng(0)
    wide = pd.DataFrame(rng.normal(size=(80, 2000)), columns=[f"c{i}" for i in range(2000)])
    y = pd.Series((wide["c0"] + wide["c1"] > 0).astype(int), name="y")
    config = {
        "model": {"family": family, "n_estimators": 20, "max_depth": None,
                  "min_samples_leaf": 1, "max_features": 0.6, "class_weight": None},
        "feature_selection": {"method": "none"},
    }  # fmt: skip
    model = build_pipeline(config, infer_schema(wide, y, "binary"), seed=0).fit(wide, y)
    forest = model.estimator_.named_steps["model"]
    assert forest.estimators_[0].max_features_ == MAX_SPLIT_FEATURES
    selected = {**config, "feature_selection": {"method": "model", "threshold": "mean"}}
    build_pipeline(selected, infer_schema(wide, y, "binary"), seed=0).fit(wide, y)
    narrow = wide.iloc[:, :20]
    small = build_pipeline(config, infer_schema(narrow, y, "binary"), seed=0).fit(narrow, y)
    assert small.estimator_.named_steps["model"].estimators_[0].max_features_ == 12


def test_preprocessing_finds_columns_by_name_like_scikit_learn_and_reads_scoring_frames_by_label():
    from sklearn.compose import ColumnTransformer

    from tunelab.pipelines.preprocessing import NamedColumnTransformer, make_preprocessor

    frame = mixed_frame().assign(extra=1.0)  # a column no branch selects
    y = pd.Series(TARGETS["binary"](frame), name="y")
    schema = infer_schema(frame.drop(columns="extra"), y, "binary")
    ours = make_preprocessor(schema, scale=True, seed=0)
    assert isinstance(ours, NamedColumnTransformer)
    theirs = ColumnTransformer(ours.transformers, remainder="drop", sparse_threshold=0.0)
    fitted = ours.fit_transform(frame, y)
    assert np.array_equal(fitted, theirs.fit_transform(frame, y), equal_nan=True)
    assert ours._transformer_to_input_indices == theirs._transformer_to_input_indices
    assert list(ours.get_feature_names_out()) == list(theirs.get_feature_names_out())
    shuffled = frame[list(reversed(frame.columns))]
    assert np.array_equal(ours.transform(shuffled), ours.transform(frame), equal_nan=True)
    with pytest.raises(ValueError, match="amount"):  # scikit-learn's own error names the column
        make_preprocessor(schema, scale=True, seed=0).fit(frame.drop(columns="amount"), y)

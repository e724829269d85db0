"""What every peer runner shares: its command line, the deadline, the minimal table
conversion that FLAML and plain LightGBM need, and the prediction file the main script scores.

Runners run in different interpreters (the FLAML and AutoGluon virtual environments), so this
module needs only pandas and numpy. The prediction file has the layout of
``tunelab.predict``: a ``prediction`` column and, for classification, one ``proba_<label>``
column per class.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

#: Object columns of which at least this share parses as ISO-8601 count as dates.
DATE_SHARE = 0.95


def parse_args(description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--train", required=True, help="training CSV (features and target)")
    parser.add_argument("--test", required=True, help="test CSV (features only)")
    parser.add_argument("--target", required=True)
    parser.add_argument("--task", required=True, choices=["binary", "multiclass", "regression"])
    parser.add_argument("--budget", type=float, required=True, help="seconds (wall clock)")
    parser.add_argument(
        "--deadline", type=float, default=None,
        help="time.time() by which the process should have exited (default: now + budget)",
    )  # fmt: skip
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--out", required=True, help="predictions CSV to write")
    parser.add_argument("--info", required=True, help="JSON file with what the runner did")
    parser.add_argument("--work", required=True, help="scratch folder for the library")
    args = parser.parse_args()
    if args.deadline is None:
        args.deadline = time.time() + args.budget
    return args


def remaining(args: argparse.Namespace, keep: float = 0.0) -> float:
    """Seconds left until the deadline (interpreter start-up and imports already spent)."""
    return max(1.0, args.deadline - time.time() - keep)


def read_raw(path: str) -> pd.DataFrame:
    return pd.read_csv(path)


def _date_parts(values: pd.Series) -> pd.DataFrame | None:
    sample = values.dropna()
    if sample.empty:
        return None
    parsed = pd.to_datetime(values, errors="coerce", format="ISO8601")
    if parsed[sample.index].notna().mean() < DATE_SHARE:
        return None
    return _parts_of(parsed, values.name, values.index)


def _parts_of(parsed: pd.Series, name: Any, index: pd.Index) -> pd.DataFrame:
    parts = ("year", "month", "day", "dayofweek", "dayofyear")
    return pd.DataFrame(
        {f"{name}__{part}": getattr(parsed.dt, part) for part in parts}, index=index
    ).astype("float64")


def minimal_conversion(
    X_train: pd.DataFrame, X_test: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The least FLAML and LightGBM need from a raw table, nothing more (no imputation, no
    encoding, no feature selection): an ISO-8601 date column becomes numeric parts (year,
    month, day, day of week, day of year); every other text column becomes a pandas
    ``category`` whose categories are the training rows' values (unseen test values -> NaN)."""
    train_parts, test_parts = [], []
    for column in X_train.columns:
        tr, te = X_train[column], X_test[column]
        if pd.api.types.is_numeric_dtype(tr) or pd.api.types.is_bool_dtype(tr):
            train_parts.append(tr.to_frame())
            test_parts.append(te.to_frame())
            continue
        dates = _date_parts(tr)
        if dates is not None:
            train_parts.append(dates)
            parsed = pd.to_datetime(te, errors="coerce", format="ISO8601")
            test_parts.append(_parts_of(parsed, column, te.index))
            continue
        dtype = pd.CategoricalDtype(sorted(tr.dropna().astype(str).unique()))
        train_parts.append(tr.astype(str).where(tr.notna()).astype(dtype).to_frame())
        test_parts.append(te.astype(str).where(te.notna()).astype(dtype).to_frame())
    return pd.concat(train_parts, axis=1), pd.concat(test_parts, axis=1)


def write_predictions(
    out: str, task: str, prediction: Any, proba: np.ndarray | None = None,
    classes: Any = None,
) -> None:  # fmt: skip
    frame = pd.DataFrame({"prediction": np.asarray(prediction).ravel()})
    if task != "regression":
        proba = np.asarray(proba, dtype=float)
        for i, label in enumerate(classes):
            frame[f"proba_{label}"] = proba[:, i]
    frame.to_csv(out, index=False)


def write_estimator_predictions(out: str, task: str, estimator: Any, X: Any) -> None:
    """``write_predictions`` for a scikit-learn-style estimator (predict, predict_proba)."""
    if task == "regression":
        write_predictions(out, task, estimator.predict(X))
    else:
        write_predictions(
            out, task, estimator.predict(X), estimator.predict_proba(X), estimator.classes_
        )


def write_info(path: str, **info: Any) -> None:
    Path(path).write_text(json.dumps(info, default=str))

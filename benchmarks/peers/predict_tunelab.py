"""Predictions of a model ``tunelab run`` registered, as a user gets them:
``tunelab.load_model(name, data_dir=...).model`` (a fitted scikit-learn pipeline:
``predict``, ``predict_proba``, ``classes_``) on the test CSV read by tunelab's own reader
(``tunelab.data.load_table``, else ``pandas.read_csv``); also copies the registered
metadata (nested-CV estimate, winner, trial counts) into the info file.
Not timed against the budget."""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--name", required=True)
parser.add_argument("--data-dir", required=True)
parser.add_argument("--test", required=True)
parser.add_argument("--out", required=True)
parser.add_argument("--info", required=True)
args = parser.parse_args()
warnings.simplefilter("ignore")

import pandas as pd  # noqa: E402

import tunelab  # noqa: E402

try:
    from tunelab.data import load_table
except ImportError:  # the reader moved: read as a user with pandas would
    load_table = pd.read_csv

entry = tunelab.load_model(args.name, data_dir=args.data_dir)
frame = load_table(args.test)
output = pd.DataFrame({"prediction": entry.model.predict(frame)})
if hasattr(entry.model, "predict_proba") and entry.metadata["task"] != "regression":
    proba = entry.model.predict_proba(frame)
    for i, label in enumerate(entry.model.classes_):
        output[f"proba_{label}"] = proba[:, i]
output.to_csv(args.out, index=False)
meta = entry.metadata
Path(args.info).write_text(
    json.dumps(
        {
            "model": meta["best"]["family"],
            "metric": meta["metric"],
            "task": meta["task"],
            "outer_cv": meta["metrics"]["outer_cv"],
            "internal_test_score": meta["metrics"]["test_score"],
            "trials": meta["trials"],
            "elapsed_seconds": meta.get("elapsed_seconds"),
            "estimator": type(entry.model).__name__,
        },
        default=str,
    )
)

"""Real report inputs from a small fit: sampled configs scored by CV, winner refitted, test rows.

Shared by the report and tracking tests so both work on what a run really produces.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from hyperopt.pyll.stochastic import sample
from sklearn.datasets import load_diabetes, load_wine
from sklearn.model_selection import cross_val_score, train_test_split

import tunelab
from tunelab.pipelines import build_pipeline, infer_schema, normalise_config
from tunelab.report import ReportInputs
from tunelab.search import TrialRecord
from tunelab.space import build_space
from tunelab.splits import make_cv

CHURN_CSV = Path(tunelab.__file__).parent / "example_data" / "churn.csv"

FAMILIES = ["linear", "knn"]
METRICS = {"binary": "roc_auc", "multiclass": "neg_log_loss", "regression": "r2"}


def task_frame(task: str) -> tuple[pd.DataFrame, str]:
    if task == "binary":
        return pd.read_csv(CHURN_CSV).head(240), "churned"
    if task == "multiclass":
        frame = load_wine(as_frame=True).frame.rename(columns={"target": "cultivar"})
        frame["cultivar"] = frame["cultivar"].map({0: "barolo", 1: "grignolino", 2: "barbera"})
        return frame, "cultivar"
    return load_diabetes(as_frame=True).frame.head(200), "target"


def make_inputs(task: str, trials_per_search: int = 5, seed: int = 0) -> ReportInputs:
    frame, target = task_frame(task)
    X, y = frame.drop(columns=[target]), frame[target]
    stratify = y if task != "regression" else None
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, random_state=seed, stratify=stratify
    )
    schema = infer_schema(X_train, y_train, task)
    metric = METRICS[task]
    space = build_space(task, FAMILIES)
    rng = np.random.default_rng(seed)
    trials: list[TrialRecord] = []
    for search in ("outer-1", "outer-2", "final"):
        for number in range(trials_per_search):
            config = normalise_config(sample(space, rng=rng), task)
            family = config["model"]["family"]
            status, score, std, error = "ok", None, None, ""
            try:
                scores = cross_val_score(
                    build_pipeline(config, schema, seed=seed),
                    X_train,
                    y_train,
                    scoring=metric,
                    cv=make_cv(task, 2, seed),
                )
                score, std = float(np.mean(scores)), float(np.std(scores))
            except ValueError as exc:
                status, error = "failed", str(exc)
            if number == trials_per_search - 1:
                status = "pruned" if status == "ok" else status
            trials.append(
                TrialRecord(search, number, family, status, score, std, 0.1, config, error)
            )
        # statuses a report must survive: skipped (no fit), cut, and one it has never seen
        trials.append(
            TrialRecord(
                search, trials_per_search, "knn", "skipped", None, None, 0.0, trials[-1].config
            )
        )
    trials.append(TrialRecord("final", 98, "linear", "cut", 0.5, None, 0.0, trials[0].config))
    mystery = TrialRecord("final", 99, "linear", "ok", 0.5, None, 0.0, trials[0].config)
    mystery.status = "mystery"  # a status a newer engine may add: the report must cope
    trials.append(mystery)
    ok = [t for t in trials if str(t.status) == "ok" and t.search == "final"]
    best = max(ok, key=lambda t: t.score)
    model = build_pipeline(best.config, schema, seed=seed).fit(X_train, y_train)
    folds = [
        {
            "fold": i + 1,
            "family": best.family,
            "score": best.score - 0.01 * i,
            "inner_best_score": best.score,
        }
        for i in range(2)
    ]
    scores = [f["score"] for f in folds]
    card = {
        "task": task,
        "target": target,
        "metric": metric,
        "seed": seed,
        "run_id": "abc123",
        "data": {"source": "test", "train_rows": len(X_train), "test_rows": len(X_test)},
        "parameters": {
            "max_evals": trials_per_search,
            "outer_folds": 2,
            "inner_folds": 2,
            "families": FAMILIES,
        },
        "metrics": {
            "outer_cv": {
                "scores": scores,
                "mean": float(np.mean(scores)),
                "std": float(np.std(scores)),
                "min": min(scores),
                "max": max(scores),
            },
            "outer_folds": folds,
            "final_inner_cv": best.score,
            "test_score": best.score,
        },
        "best": {"family": best.family, "config": best.config},
    }
    return ReportInputs(card, trials, model, X_test, y_test, name=f"{task}-model", version=1)

"""Nested cross-validation: an unbiased estimate of the *whole* tuning procedure.

Each outer fold runs a complete inner TPE search on its training part only and scores the
winner once on its held-out part. The spread of those outer scores is the honest answer to
"how well will this procedure's model do on new data"; the inner best score is not.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import get_scorer

from pipelines import build_pipeline
from tunelab.atomic import write_json_atomic
from tunelab.search import (
    ProgressCallback,
    SearchResult,
    SearchSettings,
    TrialRecord,
    make_cv,
    run_search,
)


@dataclass
class OuterFoldResult:
    fold: int
    score: float
    inner_best_score: float
    best_config: dict[str, Any]
    train_rows: list[Any]
    validation_rows: list[Any]
    trials: list[TrialRecord]

    @property
    def family(self) -> str:
        return self.best_config["model"]["family"]


def outer_splits(
    y: pd.Series, settings: SearchSettings, folds: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    # A different seed from the inner splits, so outer and inner partitions are not aligned.
    cv = make_cv(settings.schema.task, folds, settings.seed + 7919)
    return list(cv.split(np.zeros(len(y)), y))


def fit_and_score(
    config: dict[str, Any],
    settings: SearchSettings,
    X_fit: pd.DataFrame,
    y_fit: pd.Series,
    X_eval: pd.DataFrame,
    y_eval: pd.Series,
    n_jobs: int | None = None,
):
    """Refits one configuration and scores it on rows it has never seen."""
    model = build_pipeline(
        config, settings.schema, seed=settings.seed, n_jobs=n_jobs or settings.n_jobs
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X_fit, y_fit)
        score = float(get_scorer(settings.metric)(model, X_eval, y_eval))
    return model, score


def evaluate_outer_fold(
    X: pd.DataFrame,
    y: pd.Series,
    fold: int,
    train_idx: np.ndarray,
    val_idx: np.ndarray,
    settings: SearchSettings,
    run_dir: Path | None,
    deadline: float | None = None,
    progress: ProgressCallback | None = None,
) -> OuterFoldResult:
    """Runs (or resumes) one outer fold; a finished fold is read back instead of redone."""
    done_file = run_dir / f"outer-{fold}.result.json" if run_dir else None
    checkpoint = run_dir / f"outer-{fold}.trials.pkl" if run_dir else None
    label = f"outer-{fold}"
    X_train, y_train = X.iloc[train_idx], y.iloc[train_idx]
    X_val, y_val = X.iloc[val_idx], y.iloc[val_idx]
    if done_file is not None and done_file.exists():
        saved = json.loads(done_file.read_text())
        saved["trials"] = [TrialRecord(**t) for t in saved["trials"]]
        return OuterFoldResult(**saved)
    search = run_search(
        X_train,
        y_train,
        settings,
        label=label,
        checkpoint=checkpoint,
        deadline=deadline,
        progress=progress,
    )
    _, score = fit_and_score(search.best_config, settings, X_train, y_train, X_val, y_val)
    result = OuterFoldResult(
        fold=fold,
        score=score,
        inner_best_score=search.best_score,
        best_config=search.best_config,
        train_rows=X_train.index.tolist(),
        validation_rows=X_val.index.tolist(),
        trials=search.trials,
    )
    if done_file is not None:
        write_json_atomic(done_file, asdict(result))
    return result


def summarise(scores: list[float]) -> dict[str, Any]:
    values = np.asarray(scores, dtype=float)
    return {
        "scores": [float(v) for v in values],
        "mean": float(values.mean()),
        "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
        "min": float(values.min()),
        "max": float(values.max()),
    }


def final_search(
    X: pd.DataFrame,
    y: pd.Series,
    settings: SearchSettings,
    run_dir: Path | None,
    deadline: float | None = None,
    progress: ProgressCallback | None = None,
) -> SearchResult:
    """The search whose winner is refitted on all training rows and shipped."""
    checkpoint = run_dir / "final.trials.pkl" if run_dir else None
    return run_search(
        X, y, settings, label="final", checkpoint=checkpoint, deadline=deadline, progress=progress
    )

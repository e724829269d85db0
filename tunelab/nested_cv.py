"""Nested cross-validation: an unbiased estimate of the *whole* tuning procedure.

Each outer fold runs a complete inner TPE search on its training part only and scores the
winner once on its held-out part. The spread of those outer scores is the honest answer to
"how well will this procedure's model do on new data"; the inner best score is not.
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import get_scorer

from pipelines.ensemble import build_blend
from tunelab.atomic import write_json_atomic
from tunelab.ensemble import Member, describe
from tunelab.errors import CheckpointError
from tunelab.fidelity import is_large
from tunelab.search import (
    ProgressCallback,
    SearchResult,
    SearchSettings,
    TrialRecord,
    make_cv,
    run_search,
    without_booster_refit,
)
from tunelab.shared_table import resolve


@dataclass
class OuterFoldResult:
    """One outer fold's verdict; row counts only (index lists would be O(rows) per fold)."""

    fold: int
    score: float
    inner_best_score: float
    best_config: dict[str, Any]
    train_size: int
    validation_size: int
    trials: list[TrialRecord]
    #: The blend this fold shipped and scored (empty: ``best_config`` alone).
    members: list[Member] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "trials": [t.to_dict() for t in self.trials],
            "members": [m.to_dict() for m in self.members],
        }

    @property
    def family(self) -> str:
        """The winner's family, or ``ensemble(...)`` with its members' families and weights."""
        if self.members:
            return describe(self.members)
        return self.best_config["model"]["family"]


def outer_splits(
    y: pd.Series, settings: SearchSettings, folds: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    # A different seed from the inner splits, so outer and inner partitions are not aligned.
    cv = make_cv(settings.schema.task, folds, settings.seed + 7919)
    return list(cv.split(np.zeros(len(y)), y))


def build_chosen(
    members: Sequence[Member], settings: SearchSettings, n_jobs: int | None = None, rows: int = 0
) -> Any:
    """The unfitted estimator for what a search chose: one pipeline, or a weighted blend.

    For ``rows`` above :data:`tunelab.fidelity.LARGE_ROWS` its boosters keep the model early
    stopping chose instead of refitting on all rows: a refit doubles a fit that takes a
    minute there, and with a hundred thousand rows the 15 % stopping part costs little.
    """
    model = build_blend(
        [(m.config, m.weight) for m in members],
        settings.schema,
        seed=settings.seed,
        n_jobs=n_jobs or settings.n_jobs,
    )
    return without_booster_refit(model) if is_large(rows) else model


def fit_and_score(
    members: Sequence[Member],
    settings: SearchSettings,
    X_fit: pd.DataFrame,
    y_fit: pd.Series,
    X_eval: pd.DataFrame,
    y_eval: pd.Series,
    n_jobs: int | None = None,
):
    """Refits what a search chose (one pipeline or a blend) and scores it on unseen rows."""
    model = build_chosen(members, settings, n_jobs, rows=len(X_fit))
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
    starting_points: Sequence[dict[str, Any]] = (),
) -> OuterFoldResult:
    """Runs (or resumes) one outer fold; a finished fold is read back instead of redone.

    ``X`` and ``y`` are the training rows only: the held-out test rows never reach a fold.
    """
    X, y = resolve(X), resolve(y)  # on Dask: read once per worker from the run's directory
    done_file = run_dir / f"outer-{fold}.result.json" if run_dir else None
    checkpoint = run_dir / f"outer-{fold}.trials.json" if run_dir else None
    label = f"outer-{fold}"
    X_train, y_train = X.iloc[train_idx], y.iloc[train_idx]
    X_val, y_val = X.iloc[val_idx], y.iloc[val_idx]
    if done_file is not None and done_file.exists():
        return read_fold_result(done_file)
    search = run_search(
        X_train,
        y_train,
        settings,
        label=label,
        checkpoint=checkpoint,
        deadline=deadline,
        progress=progress,
        starting_points=starting_points,
    )
    _, score = fit_and_score(search.shipped, settings, X_train, y_train, X_val, y_val)
    result = OuterFoldResult(
        fold=fold,
        score=score,
        inner_best_score=search.best_score,
        best_config=search.best_config,
        train_size=len(X_train),
        validation_size=len(X_val),
        trials=search.trials,
        members=search.members,
    )
    if done_file is not None:
        write_json_atomic(done_file, result.to_dict())
    return result


def read_fold_result(path: Path) -> OuterFoldResult:
    """A finished fold saved by an earlier attempt; anything malformed is the user's to clear."""
    try:
        saved = json.loads(path.read_text())
        saved["trials"] = [TrialRecord(**t) for t in saved["trials"]]
        saved["members"] = [Member(**m) for m in saved.get("members", [])]
        return OuterFoldResult(**saved)
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise CheckpointError(
            f"Cannot resume from {str(path)!r} ({type(exc).__name__}): delete that file to "
            "redo the fold, or start a new run without --run-id"
        ) from None


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
    starting_points: Sequence[dict[str, Any]] = (),
) -> SearchResult:
    """The search whose winner is refitted and shipped."""
    checkpoint = run_dir / "final.trials.json" if run_dir else None
    return run_search(
        X,
        y,
        settings,
        label="final",
        checkpoint=checkpoint,
        deadline=deadline,
        progress=progress,
        starting_points=starting_points,
    )


def best_outer_fold(outer_results: list[OuterFoldResult]) -> OuterFoldResult:
    """The outer fold whose winner scored best on its held-out part (ties: earlier fold)."""
    return max(outer_results, key=lambda r: (r.score, -r.fold))


def best_outer_configuration(outer_results: list[OuterFoldResult]) -> SearchResult:
    """The outer winner that scored best on its held-out part, as a final search's result."""
    best = best_outer_fold(outer_results)
    return SearchResult(
        label="final",
        best_config=best.best_config,
        best_score=best.inner_best_score,
        trials=[],
        members=best.members,
    )


def no_time_for_a_trial(deadline: float | None, outer_results: list[OuterFoldResult]) -> bool:
    """Would one final trial of the best outer winner end after ``deadline``?

    Its cost is estimated from the same configuration's trial in the outer fold, scaled by
    the larger training part of the final search (all training rows instead of a share).
    """
    if deadline is None:
        return False
    best = best_outer_fold(outer_results)
    same = [t.fit_seconds for t in best.trials if t.config == best.best_config]
    folds = len(outer_results)
    estimate = max(same, default=0.0) * folds / max(folds - 1, 1)
    return time.time() + estimate > deadline


def final_starting_points(
    outer_results: list[OuterFoldResult], portfolio: list[dict[str, Any]], per_fold: int = 2
) -> list[dict[str, Any]]:
    """What the outer searches learned, first: their winners, then each fold's next best.

    Nested CV costs most of a budget; this is how that work reaches the shipped model. The
    portfolio follows, so families the outer folds never reached are still tried.
    """
    winners = [r.best_config for r in outer_results]
    runners_up: list[dict[str, Any]] = []
    for result in outer_results:
        ok = sorted(
            (t for t in result.trials if t.status == "ok" and t.score is not None),
            key=lambda t: (-(t.score or 0.0), t.number),
        )
        runners_up.extend(t.config for t in ok[1 : 1 + per_fold])
    return winners + runners_up + portfolio

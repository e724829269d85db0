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

from tunelab.atomic import write_json_atomic
from tunelab.card import INTERVAL_LEVEL, estimate_interval
from tunelab.compact import return_freed_memory_after_large_fit
from tunelab.ensemble import Member, class_probabilities, describe, score_stored
from tunelab.errors import CheckpointError
from tunelab.fidelity import is_large
from tunelab.models.kinds import is_classification
from tunelab.pipelines.ensemble import build_blend
from tunelab.run_files import OuterFoldFile, check_shape
from tunelab.search import (
    ProgressCallback,
    SearchResult,
    SearchSettings,
    TrialRecord,
    run_search,
    with_booster_threads,
    without_booster_refit,
)
from tunelab.shared_table import resolve
from tunelab.splits import inner_fold_splits, outer_fold_splits, record_splits
from tunelab.trials import TrialStatus
from tunelab.weights import fit_weighted, row_weights, run_scorer, weighted_score


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
    X: pd.DataFrame, y: pd.Series, settings: SearchSettings, folds: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """The outer folds over the training rows, as :mod:`tunelab.splits` decides them."""
    return outer_fold_splits(X, y, settings, folds)


def build_chosen(
    members: Sequence[Member], settings: SearchSettings, n_jobs: int | None = None, rows: int = 0
) -> Any:
    """The unfitted estimator for what a search chose: one pipeline, or a weighted blend.

    For ``rows`` above :data:`tunelab.fidelity.LARGE_ROWS` its boosters keep the model early
    stopping chose instead of refitting on all rows: a refit doubles a fit that takes a
    minute there, and with a hundred thousand rows the 15 % stopping part costs little.
    """
    cores = n_jobs or settings.n_jobs
    model = build_blend(
        [(m.config, m.weight) for m in members],
        settings.schema,
        seed=settings.seed,
        n_jobs=cores,
    )
    model = with_booster_threads(model, rows, cores)
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
    return_freed_memory_after_large_fit(settings.schema)
    model = build_chosen(members, settings, n_jobs, rows=len(X_fit))
    weight_column = settings.plan.weight_column
    weights = row_weights(X_eval, weight_column)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit_weighted(model, X_fit, y_fit, row_weights(X_fit, weight_column))
        classification = is_classification(settings.schema.task)
        classes = np.unique([*y_fit, *y_eval]) if classification else None
        scorer = run_scorer(settings.metric, classes)
        if classes is not None and not np.array_equal(model.classes_, classes):
            # a class the fit never saw (possible with group or time splits) scores as p=0
            predictions = class_probabilities(model, X_eval, classes)
            return model, score_stored(scorer, predictions, y_eval, classes, weights)
        score = weighted_score(scorer, model, X_eval, y_eval, weights)
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
        return read_fold_result(done_file, fold)
    if run_dir is not None:
        path = run_dir / "splits" / f"{label}.json"
        record_splits(path, X, [(train_idx, val_idx)], settings.plan)
        record_inner_splits(run_dir, label, X_train, y_train, settings)
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


def read_fold_result(path: Path, fold: int | None = None) -> OuterFoldResult:
    """A finished fold saved by an earlier attempt; anything malformed is the user's to clear.

    Every field is type-checked first (:class:`tunelab.run_files.OuterFoldFile`), so a score
    saved as text is refused here with the file's name, not met later as a traceback.
    """
    try:
        saved = json.loads(path.read_text())
        check_shape(OuterFoldFile, saved)
        if fold is not None and saved["fold"] != fold:
            raise ValueError(f"it holds fold {saved['fold']}, not {fold}")
    except (OSError, ValueError, RecursionError) as exc:
        raise CheckpointError(
            f"Cannot resume from {str(path)!r} ({_reason(exc)}): delete that file to "
            "redo the fold, or start a new run without --run-id"
        ) from None
    saved["trials"] = [TrialRecord(**t) for t in saved["trials"]]
    saved["members"] = [Member(**m) for m in saved.get("members", [])]
    return OuterFoldResult(**saved)


def _reason(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text[:300]}" if text else type(exc).__name__


def record_inner_splits(
    run_dir: Path, label: str, X: pd.DataFrame, y: pd.Series, settings: SearchSettings
) -> None:
    """``splits/<label>.inner.json``: the inner folds the search's trials are scored on
    (the same function the search's objective takes them from)."""
    splits = inner_fold_splits(X, y, settings)
    record_splits(run_dir / "splits" / f"{label}.inner.json", X, splits, settings.plan)


def summarise(scores: list[float], metric: str | None = None) -> dict[str, Any]:
    """The outer folds' scores and their summary, with the card's interval
    (:func:`tunelab.card.estimate_interval`) as ``interval_low``/``interval_high``."""
    values = np.asarray(scores, dtype=float)
    low, high = estimate_interval([float(v) for v in values], metric)
    return {
        "scores": [float(v) for v in values],
        "mean": float(values.mean()),
        "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
        "min": float(values.min()),
        "max": float(values.max()),
        "interval_low": low,
        "interval_high": high,
        "interval_level": INTERVAL_LEVEL,
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
    if run_dir is not None:
        record_inner_splits(run_dir, "final", X, y, settings)
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
            (t for t in result.trials if t.status == TrialStatus.OK and t.score is not None),
            key=lambda t: (-(t.score or 0.0), t.number),
        )
        runners_up.extend(t.config for t in ok[1 : 1 + per_fold])
    return winners + runners_up + portfolio

"""Greedy ensemble selection over the trials' out-of-fold predictions (Caruana et al., 2004).

Why: the trials of a search already produced predictions for every training row on the inner
fold that did not see it. Averaging a few good, different pipelines usually beats the best
single one (it is what auto-sklearn and AutoGluon ship), and choosing the weights costs only
arithmetic on predictions that exist anyway. The choice is made on the same out-of-fold rows
it is scored on, so its inner score is optimistic; the outer folds of nested CV make the same
choice on their own rows and score it on rows it never saw, which keeps the estimate honest.

Predictions are scored through the run's own scikit-learn scorer (via
:class:`StoredPredictions`), so every metric tunelab offers works unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin

#: Out-of-fold predictions are kept for at most this many of a search's best trials.
CANDIDATE_POOL = 8
#: A shipped blend has at most this many members (predicting costs one call per member).
MAX_MEMBERS = 5
#: An ensemble's members are refitted one after the other; its refit may cost at most this
#: many times the best single pipeline's, so an ensemble never eats a budget's reserve.
MAX_REFIT_COST_FACTOR = 3.0


@dataclass(frozen=True)
class Member:
    """One pipeline of a shipped blend and its weight (weights of a blend sum to 1)."""

    config: dict[str, Any]
    weight: float
    trial: int
    family: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "family": self.family,
            "weight": self.weight,
            "trial": self.trial,
            "config": self.config,
        }


def describe(members: Sequence[Member]) -> str:
    """``lightgbm`` for one pipeline, ``ensemble(lightgbm 0.60 + xgboost 0.40)`` for a blend."""
    if len(members) == 1:
        return members[0].family
    parts = " + ".join(f"{m.family} {m.weight:.2f}" for m in members)
    return f"ensemble({parts})"


class StoredPredictions(BaseEstimator):
    """Answers ``predict``/``predict_proba`` from stored predictions, indexed by row position.

    Lets a scikit-learn scorer score predictions that were made earlier (the out-of-fold ones
    or a blend of them) exactly as it would score a fitted estimator: ``X`` is a column of row
    positions into the stored array.
    """

    def __init__(self, predictions: np.ndarray, classes: np.ndarray | None = None):
        self.predictions = predictions
        self.classes = classes

    def _rows(self, X: Any) -> np.ndarray:
        return np.asarray(X)[:, 0].astype(int)

    def predict(self, X: Any) -> np.ndarray:
        rows = self.predictions[self._rows(X)]
        if self.classes is None:
            return rows
        return self.classes[np.argmax(rows, axis=1)]


class _StoredProbabilities(ClassifierMixin, StoredPredictions):
    @property
    def classes_(self) -> np.ndarray:
        assert self.classes is not None
        return self.classes

    def predict_proba(self, X: Any) -> np.ndarray:
        return self.predictions[self._rows(X)]


class _StoredValues(RegressorMixin, StoredPredictions):
    pass


def score_stored(
    scorer: Any,
    predictions: np.ndarray,
    y: pd.Series | np.ndarray,
    classes: np.ndarray | None,
    sample_weight: np.ndarray | None = None,
) -> float:
    """The scorer's value for ``predictions`` (class probabilities, or regression values),
    weighted by ``sample_weight`` when given."""
    holder = (
        _StoredValues(predictions)
        if classes is None
        else _StoredProbabilities(predictions, classes)
    )
    rows = np.arange(len(predictions)).reshape(-1, 1)
    if sample_weight is None:
        return float(scorer(holder, rows, np.asarray(y)))
    return float(scorer(holder, rows, np.asarray(y), sample_weight=sample_weight))


def fold_predictions(estimator: Any, X: pd.DataFrame, classification: bool) -> np.ndarray:
    """What the ensemble averages: class probabilities, or predicted values."""
    if classification:
        return np.asarray(estimator.predict_proba(X), dtype=float)
    return np.asarray(estimator.predict(X), dtype=float)


def class_probabilities(estimator: Any, X: pd.DataFrame, classes: np.ndarray) -> np.ndarray:
    """``predict_proba`` with one column per class of ``classes`` (sorted, as ``np.unique``
    gives them); a class the fit never saw gets probability 0.

    A group or time fold's training part can lack a rare class; its model is then scored
    (and blended) as what it is, a model that never predicts that class.
    """
    fitted = np.asarray(estimator.predict_proba(X), dtype=float)
    full = np.zeros((len(fitted), len(classes)), dtype=float)
    full[:, np.searchsorted(classes, estimator.classes_)] = fitted
    return full


class OutOfFold:
    """Out-of-fold predictions of a search's best fully scored trials, in memory only.

    Kept: the :data:`CANDIDATE_POOL` best (by the search's own score) and, beside them, the
    best trial of every family. A pool of the eight best alone was often eight LightGBMs that
    differ in a learning rate: their blend is the best member again. AutoGluon's ensembles
    gain from blending *different* models, so each family's best stays a candidate even when
    it ranks ninth. Memory stays at most (pool + families) prediction arrays. Trials read
    back from a checkpoint have none, so a resumed search blends only the trials it ran.
    """

    def __init__(self, classes: np.ndarray | None, pool: int = CANDIDATE_POOL):
        self.classes = classes
        self.pool = pool
        self._kept: dict[int, tuple[float, np.ndarray, str]] = {}

    def add(self, trial: int, score: float, predictions: np.ndarray, family: str = "") -> None:
        self._kept[trial] = (score, predictions, family)
        top = sorted(self._kept, key=lambda t: (-self._kept[t][0], t))[: self.pool]
        keep = set(top) | self._family_leaders()
        for dropped in [t for t in self._kept if t not in keep]:
            del self._kept[dropped]

    def _family_leaders(self) -> set[int]:
        """Each family's best trial (ties: the earlier one)."""
        best: dict[str, int] = {}
        for trial in sorted(self._kept):
            score, _, family = self._kept[trial]
            if family not in best or score > self._kept[best[family]][0]:
                best[family] = trial
        return set(best.values())

    def ranked(self) -> list[tuple[int, np.ndarray]]:
        """(trial, predictions), best search score first; ties to the earlier trial."""
        order = sorted(self._kept, key=lambda t: (-self._kept[t][0], t))
        return [(t, self._kept[t][1]) for t in order]

    def __len__(self) -> int:
        return len(self._kept)


def greedy_weights(
    candidates: Sequence[np.ndarray],
    y: pd.Series | np.ndarray,
    scorer: Any,
    classes: np.ndarray | None,
    rounds: int,
    sample_weight: np.ndarray | None = None,
) -> tuple[list[int], float]:
    """Caruana's forward selection with replacement: counts per candidate and the blend score.

    Each round adds the candidate whose addition scores best; the counts of the best-scoring
    round are returned (later rounds may only add noise). Round one picks the single best
    candidate, so the result is never worse on these rows than the best single pipeline.
    """
    counts = [0] * len(candidates)
    best_counts, best_score = list(counts), -np.inf
    total = np.zeros_like(candidates[0])
    for round_number in range(1, rounds + 1):
        scores = [
            score_stored(scorer, (total + c) / round_number, y, classes, sample_weight)
            for c in candidates
        ]
        pick = int(np.nanargmax(scores))
        total = total + candidates[pick]
        counts[pick] += 1
        if scores[pick] > best_score + 1e-12:
            best_counts, best_score = list(counts), float(scores[pick])
    return best_counts, best_score


def affordable(
    members: list[Member],
    fit_seconds: dict[int, float],
    factor: float = MAX_REFIT_COST_FACTOR,
    limit_seconds: float | None = None,
) -> list[Member]:
    """The heaviest-weighted members whose refits together cost at most ``factor`` times the
    top member's (measured from their trials) and at most ``limit_seconds``; weights
    renormalised. The top member is always kept."""
    ranked = sorted(members, key=lambda m: (-m.weight, m.trial))
    limit = factor * max(fit_seconds.get(ranked[0].trial, 0.0), 1e-3)
    if limit_seconds is not None:
        limit = min(limit, limit_seconds)
    kept: list[Member] = []
    spent = 0.0
    for member in ranked:
        cost = fit_seconds.get(member.trial, 0.0)
        if kept and spent + cost > limit:
            continue
        kept.append(member)
        spent += cost
    return heaviest(kept, len(kept))


def select_members(
    oof: OutOfFold,
    y: pd.Series,
    scorer: Any,
    configs: dict[int, dict[str, Any]],
    rounds: int,
    fit_seconds: dict[int, float] | None = None,
    sample_weight: np.ndarray | None = None,
) -> tuple[list[Member], float | None]:
    """The blend to ship (one member when blending does not help) and its out-of-fold score.

    At most :data:`MAX_MEMBERS` members, the heaviest; under a time budget (``fit_seconds``
    given) also only as many as :func:`affordable` allows. Without a budget the choice does
    not depend on measured times, so the same seed ships the same blend. Returns
    ``([], None)`` when there is nothing to blend (fewer than two candidates).
    """
    ranked = oof.ranked()
    if rounds < 2 or len(ranked) < 2:
        return [], None
    trials = [t for t, _ in ranked]
    counts, score = greedy_weights(
        [p for _, p in ranked], y, scorer, oof.classes, rounds, sample_weight
    )
    used = sum(counts)
    members = [
        Member(configs[t], c / used, t, configs[t]["model"]["family"])
        for t, c in zip(trials, counts, strict=True)
        if c
    ]
    kept = heaviest(members, MAX_MEMBERS)
    if fit_seconds is not None:
        kept = affordable(kept, fit_seconds)
    if len(kept) < len(members):  # trimmed: score what is actually shipped
        predictions = dict(ranked)
        blend = sum(m.weight * predictions[m.trial] for m in kept)
        score = score_stored(scorer, np.asarray(blend), y, oof.classes, sample_weight)
    return kept, score


def heaviest(members: list[Member], count: int) -> list[Member]:
    """The ``count`` members of largest weight (ties: earlier trial), weights renormalised."""
    kept = sorted(members, key=lambda m: (-m.weight, m.trial))[:count]
    total = sum(m.weight for m in kept)
    return [
        Member(m.config, m.weight / total, m.trial, m.family)
        for m in sorted(kept, key=lambda m: m.trial)
    ]


def member_refit_seconds(trials: Sequence[Any]) -> dict[int, float]:
    """What a refit of each of a search's trials costs, roughly (``refit_seconds``)."""
    return {t.number: t.refit_seconds for t in trials}

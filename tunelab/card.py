"""The model card: what a registered version records about the run that made it.

Typed here, written as JSON (``metadata.json``) by the store, read back with
:meth:`ModelCard.from_dict`, so no reader depends on string keys scattered across modules.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

#: Coverage the card's interval aims at.
INTERVAL_LEVEL = 0.95


def estimate_interval(
    scores: Sequence[float], metric: str | None = None, level: float = INTERVAL_LEVEL
) -> tuple[float, float]:
    """Where one more held-out score of the same procedure should fall, from the outer folds.

    A Student-t *prediction* interval, ``mean ± t(k-1, (1+level)/2) · std · sqrt(1 + 1/k)``
    over the ``k`` outer-fold scores, not a confidence interval for their mean: the claim a
    user checks is "a new table of this kind scores in here", and the held-out test score is
    one such draw (its rows are about as many as one outer fold's). With 3 folds ``t`` is 4.30,
    so the interval is wide: about ±5 fold standard deviations. Scores cannot exceed the
    metric's best value (1 for AUC, accuracy, F1 and R², 0 for the ``neg_`` losses), so the
    upper end stops there. One fold, or folds that agree exactly, give a zero-width interval.
    """
    k = len(scores)
    mean = math.fsum(scores) / k
    if k < 2:
        return mean, mean
    from scipy.stats import t

    std = math.sqrt(math.fsum((s - mean) ** 2 for s in scores) / (k - 1))
    half = float(t.ppf((1 + level) / 2, k - 1)) * std * math.sqrt(1 + 1 / k)
    best = 0.0 if metric and metric.startswith("neg_") else 1.0 if metric else math.inf
    return mean - half, min(mean + half, best)


@dataclass
class DataSummary:
    source: str
    fingerprint: str
    train_rows: int
    test_rows: int
    dropped_target_rows: int


@dataclass
class OuterFoldSummary:
    fold: int
    family: str
    score: float
    inner_best_score: float


@dataclass
class Metrics:
    outer_cv: dict[str, Any]
    outer_folds: list[OuterFoldSummary]
    final_inner_cv: float
    test_score: float


@dataclass
class TrialCounts:
    total: int
    failed: int = 0
    skipped: int = 0
    pruned: int = 0
    cut: int = 0


@dataclass
class ModelCard:
    task: str
    target: str
    metric: str
    seed: int
    run_id: str
    data: DataSummary
    parameters: dict[str, Any]
    metrics: Metrics
    best: dict[str, Any]
    trials: TrialCounts
    #: True when the registered model was refitted on every row after the test score.
    refit_full: bool = False
    search_space: dict[str, Any] = field(default_factory=dict)
    schema: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    elapsed_seconds: float = 0.0

    @property
    def best_family(self) -> str:
        return str(self.best["family"])

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ModelCard:
        """Reads cards of every version so far (older ones lack ``cut`` and ``refit_full``)."""
        metrics = dict(raw["metrics"])
        metrics["outer_folds"] = [OuterFoldSummary(**f) for f in metrics["outer_folds"]]
        known = {f for f in cls.__dataclass_fields__}
        values = {k: v for k, v in raw.items() if k in known}
        return cls(
            **{
                **values,
                "data": DataSummary(**raw["data"]),
                "metrics": Metrics(**metrics),
                "trials": TrialCounts(**raw["trials"]),
            }
        )

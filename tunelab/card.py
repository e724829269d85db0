"""The model card: what a registered version records about the run that made it.

Typed here, written as JSON (``metadata.json``) by the store, read back with
:meth:`ModelCard.from_dict`, so no reader depends on string keys scattered across modules.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tunelab.config import RunConfig
    from tunelab.ensemble import Member
    from tunelab.holdout import HoldoutSplit
    from tunelab.nested_cv import OuterFoldResult
    from tunelab.pipelines import DataSchema
    from tunelab.prepare import PreparedData
    from tunelab.search import SearchResult, TrialRecord

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
    #: With a time column: ``[first, last]`` of the training and of the test rows (ISO-8601).
    train_period: list[Any] | None = None
    test_period: list[Any] | None = None


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
    #: The weight column every score above is weighted by (None: unweighted).
    weighted_by: str | None = None


@dataclass
class TrialCounts:
    total: int
    failed: int = 0
    skipped: int = 0
    pruned: int = 0
    cut: int = 0

    @classmethod
    def of(cls, statuses: Sequence[str]) -> TrialCounts:
        """Counts trials by how they ended (``TrialStatus`` values compare equal to these)."""
        from tunelab.trials import TrialStatus

        def count(status: TrialStatus) -> int:
            return sum(s == status for s in statuses)

        return cls(
            total=len(statuses),
            failed=count(TrialStatus.FAILED),
            skipped=count(TrialStatus.SKIPPED),
            pruned=count(TrialStatus.PRUNED),
            cut=count(TrialStatus.CUT),
        )


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
    #: The training rows' data profile (:func:`tunelab.drift.profile_frame`): what a later
    #: run's drift check compares its rows with.
    profile: dict[str, Any] = field(default_factory=dict)
    #: ``{"name", "version"}`` of the version the search was warm-started from.
    parent: dict[str, Any] | None = None
    #: The champion decision (:class:`tunelab.champion.ChampionDecision`) with ``--champion``.
    champion: dict[str, Any] | None = None
    #: The drift check against the champion's (or parent's) profile (:class:`DriftReport`).
    drift: dict[str, Any] | None = None

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


@dataclass(frozen=True)
class CardInputs:
    """What the card records of the run's settings and data, before any search."""

    config: RunConfig
    prepared: PreparedData
    split: HoldoutSplit
    run_id: str
    families: list[str]
    cores: int


def assemble_card(
    inputs: CardInputs,
    schema: DataSchema,
    outer_results: list[OuterFoldResult],
    final: SearchResult,
    shipped: list[Member],
    test_score: float,
    refit_full: bool,
    records: list[TrialRecord],
    elapsed_seconds: float,
    extra: dict[str, Any] | None = None,
) -> ModelCard:
    """The card of a finished run: settings as resolved (the task and metric chosen, the
    cores used), not as typed, so a reader can reproduce what actually ran."""
    from tunelab.ensemble import describe
    from tunelab.nested_cv import summarise
    from tunelab.provenance import library_versions
    from tunelab.space import describe_space
    from tunelab.splits import period

    config, prepared, split = inputs.config, inputs.prepared, inputs.split
    return ModelCard(
        task=prepared.task,
        target=config.target,
        metric=prepared.metric,
        seed=config.seed,
        run_id=inputs.run_id,
        data=DataSummary(
            source=str(config.data),
            fingerprint=prepared.fingerprint,
            train_rows=len(split.X_train),
            test_rows=len(split.X_test),
            dropped_target_rows=prepared.dropped_target_rows,
            train_period=period(split.X_train, prepared.plan),
            test_period=period(split.X_test, prepared.plan),
        ),
        parameters={
            **config.parameters(),
            "task": prepared.task,
            "metric": prepared.metric,
            "max_evals": config.trials_per_search,
            "families": inputs.families,
            "n_jobs": inputs.cores,
        },
        metrics=Metrics(
            outer_cv=summarise([r.score for r in outer_results], prepared.metric),
            outer_folds=[
                OuterFoldSummary(r.fold, r.family, r.score, r.inner_best_score)
                for r in outer_results
            ],
            final_inner_cv=final.best_score,
            test_score=test_score,
            weighted_by=prepared.plan.weight_column,
        ),
        best={
            "family": describe(shipped),
            "config": final.best_config,
            "ensemble": [m.to_dict() for m in shipped] if len(shipped) > 1 else [],
            "ensemble_oof_score": final.ensemble_score,
        },
        trials=TrialCounts.of([r.status for r in records]),
        refit_full=refit_full,
        search_space=describe_space(prepared.task, inputs.families),
        schema=schema.to_dict(),
        versions=library_versions(),
        elapsed_seconds=elapsed_seconds,
        **(extra or {}),
    )

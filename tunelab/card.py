"""The model card: what a registered version records about the run that made it.

Typed here, written as JSON (``metadata.json``) by the store, read back with
:meth:`ModelCard.from_dict`, so no reader depends on string keys scattered across modules.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


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

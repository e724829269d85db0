"""What a training run returns (to users) and hands its runner at the end (to publish)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

from tunelab.card import ModelCard
from tunelab.search import TrialRecord


@dataclass
class TrainingResult:
    """What a training run returns; ``result["test_score"]`` works as well as the attribute."""

    name: str
    version: int
    location: str
    run_id: str
    task: str
    metric: str
    outer_cv: dict[str, Any]
    test_score: float
    best_family: str
    best_config: dict[str, Any]
    refit_full: bool
    elapsed_seconds: float
    #: The champion decision (the card's ``champion``) when the run had ``--champion``.
    champion: dict[str, Any] | None = None

    def __getitem__(self, key: str) -> Any:
        return getattr(self, key)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class RunOutcome:
    """Everything a runner may publish at the end (artifacts, reports, tracking)."""

    result: TrainingResult
    card: ModelCard
    trials: list[TrialRecord]
    model: Any
    X_test: pd.DataFrame
    y_test: pd.Series
    #: The report's inputs and figures when ``config.report`` is on (published by runners).
    report: Any = None

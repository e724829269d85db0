"""A trial's record: how it ended, its scores and when it ran.

Its own module, free of the search's imports, so the report, the card and the runners can
read trial records without importing the search engine (an import contract checks this).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any


class TrialStatus(str, Enum):
    """How a trial ended; only ``failed`` counts towards dropping a family."""

    OK = "ok"  # scored on every inner fold
    PRUNED = "pruned"  # stopped early, clearly worse than the best; partial score kept
    CUT = "cut"  # stopped by a time limit (the run's budget or --trial-timeout)
    FAILED = "failed"  # raised an error
    SKIPPED = "skipped"  # not fitted: its family was dropped after repeated failures

    def __str__(self) -> str:
        return self.value


@dataclass
class TrialRecord:
    search: str
    number: int
    family: str
    status: TrialStatus
    score: float | None
    score_std: float | None
    fit_seconds: float
    config: dict[str, Any]
    error: str = ""
    #: Score on each inner fold it was fitted on, in fold order (the first drives promotion).
    fold_scores: list[float] = field(default_factory=list)
    #: When the trial started and finished fitting (ISO-8601, UTC): what ran at once.
    started_at: str = ""
    finished_at: str = ""
    #: The share of its fold's training rows it was fitted on (below 1 on a large table:
    #: :data:`tunelab.fidelity.TRIAL_ROWS`).
    row_share: float = 1.0

    def __post_init__(self) -> None:
        self.status = TrialStatus(self.status)

    @property
    def seconds_per_fold(self) -> float:
        """Seconds one inner-fold fit took: what a refit of this configuration costs, roughly."""
        return self.fit_seconds / max(1, len(self.fold_scores))

    @property
    def refit_seconds(self) -> float:
        """What one fit of this configuration on all its fold's training rows costs, roughly:
        a trial fitted on a subset of them is scaled up by the rows it did not see."""
        return self.seconds_per_fold / max(self.row_share, 1e-6)

    def to_row(self) -> dict[str, Any]:
        row = asdict(self)
        del row["fold_scores"]
        row["status"] = self.status.value
        row["config"] = repr(self.config)
        return row

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "status": self.status.value}

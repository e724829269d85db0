"""How a wall-clock budget is spent: policy in one place, enforced by the searches' deadlines.

The clock starts when the user's call starts (the CLI passes its process start time, the API
the moment ``train`` was called), so server start-up, data loading and registration are
inside the budget the user gave, not on top of it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

#: Seconds kept after the final refit for registration, artifacts and tear-down.
FIXED_RESERVE_SECONDS = 2.0
#: Seconds the steps after registration take on a small table: the report (plots,
#: permutation importance, and their PNG copies for the Prefect UI) and logging to MLflow.
REPORT_SECONDS = 3.0
MLFLOW_SECONDS = 5.0
#: The share of the budget the post-search reserve may take at most.
MAX_RESERVE_SHARE = 0.3


@dataclass(frozen=True)
class RunClock:
    """Deadlines (``time.time()`` values) of a run that started at ``started``."""

    started: float
    time_budget: float | None

    @classmethod
    def start(cls, time_budget: float | None, started: float | None = None) -> RunClock:
        return cls(started=started if started is not None else time.time(), time_budget=time_budget)

    @property
    def end(self) -> float | None:
        return None if self.time_budget is None else self.started + self.time_budget

    def elapsed(self) -> float:
        return time.time() - self.started

    def outer_deadlines(self, estimate_share: float, batches: int) -> list[float | None]:
        """Splits ``estimate_share`` of the search time evenly between outer-fold batches.

        The search time is what is left now, less a first guess at the post-search reserve
        (refined from measured fit times before the final search starts).
        """
        if self.end is None:
            return [None] * batches
        now = time.time()
        budget = float(self.time_budget or 0.0)
        guess = min(FIXED_RESERVE_SECONDS + 0.1 * budget, 0.25 * budget)
        window = max(0.0, self.end - guess - now) * estimate_share
        return [now + window * (i + 1) / batches for i in range(batches)]

    def final_deadline(
        self, fold_fit_seconds: list[float], refits: int, after_seconds: float = 0.0
    ) -> float | None:
        """Ends the final search as late as the refits that follow it allow.

        The reserve is sized from the slowest single-fold fit the outer searches measured:
        one for the trial in flight at the deadline (trials stop between folds), about 1.5 per
        refit (a refit sees more rows than a fold), plus a fixed part and ``after_seconds`` for
        what follows registration (report, tracking); never more than
        :data:`MAX_RESERVE_SHARE` of the budget.
        """
        if self.end is None or self.time_budget is None:
            return None
        slowest = max(fold_fit_seconds, default=0.0)
        reserve = FIXED_RESERVE_SECONDS + after_seconds + slowest * (1 + 1.5 * refits)
        return self.end - min(reserve, MAX_RESERVE_SHARE * self.time_budget)


def outer_fold_parallelism(cores: int, outer_folds: int) -> tuple[int, int]:
    """(outer folds run at once, cores each).

    With two or more cores every fold runs at once, so no core idles while a last batch
    runs alone (3 folds on 2 cores as batches [2, 1] left one idle a third of the time); the
    OS shares the cores between them. With one core they run one after another.
    """
    if cores <= 1:
        return 1, 1
    return outer_folds, max(1, cores // outer_folds)

"""How a wall-clock budget is spent: policy in one place, enforced by the searches' deadlines.

The clock starts when the user's call starts (the CLI passes its process start time, the API
the moment ``train`` was called), so server start-up, data loading and registration are
inside the budget the user gave, not on top of it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

#: Seconds kept after the final refit for registration, artifacts and tear-down (measured:
#: 0.3-0.5 s together on a 2-core machine at load 5, once the process skips the interpreter's
#: teardown and the flow run its heartbeat; kept at twice that).
FIXED_RESERVE_SECONDS = 1.0
#: Seconds the steps after registration take: the report (plots, permutation importance,
#: and their PNG copies for the Prefect UI; measured 1-2.5 s at load 2, on mpg and on 20,000
#: rows with extra trees) and logging to MLflow. The report fits itself into the time left
#: (see :func:`seconds_left`): with less, its importance shrinks and its images are left out.
REPORT_SECONDS = 2.0
MLFLOW_SECONDS = 5.0
#: The share of the budget the elastic part of the post-search reserve (report, tracking) may
#: take at most; the refits and registration are always reserved in full.
MAX_RESERVE_SHARE = 0.3
#: Seconds the last steps of a run take once the report is written: the Prefect artifacts
#: (without images), marking the flow run finished, ending the process (measured: about 0.2 s
#: on a 2-core machine at load 5).
CLOSING_SECONDS = 0.5

#: How much longer a refit on all training rows takes than one inner-fold fit (1.5x the rows).
REFIT_GROWTH = 1.5
#: How much longer the refit on every row takes than the refit on the training rows (1 / 0.8).
REFIT_ALL_ROWS_GROWTH = 1.25

#: The clock of the run in progress in this context (set by :meth:`RunClock.start`), so the
#: steps after registration (report, artifacts) can fit into what is left of the budget.
_CURRENT: ContextVar[RunClock | None] = ContextVar("tunelab_run_clock", default=None)


@dataclass(frozen=True)
class RunClock:
    """Deadlines (``time.time()`` values) of a run that started at ``started``."""

    started: float
    time_budget: float | None

    @classmethod
    def start(cls, time_budget: float | None, started: float | None = None) -> RunClock:
        """The clock of a run starting now; also the current one for :func:`seconds_left`."""
        clock = cls(started=time.time() if started is None else started, time_budget=time_budget)
        _CURRENT.set(clock)
        return clock

    @property
    def end(self) -> float | None:
        return None if self.time_budget is None else self.started + self.time_budget

    def elapsed(self) -> float:
        return time.time() - self.started

    def left(self) -> float | None:
        """Seconds until the end of the budget (negative once past it); None without one."""
        return None if self.end is None else self.end - time.time()

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
        one for the trial in flight at the deadline (trials stop between folds), one per refit
        (a refit sees 1.5 times a fold's rows, but on every core: the outer folds share them;
        measured refits took 0.1-0.7 of it), plus a fixed part for registration and
        tear-down. Those always happen, so they are reserved in full, however short the
        budget: a deadline in the past skips the final search instead of overrunning. What
        follows registration (``after_seconds``: report, tracking) adapts to the time left, so
        its reserve is cut first, to keep the whole reserve within :data:`MAX_RESERVE_SHARE`
        of the budget.
        """
        if self.end is None or self.time_budget is None:
            return None
        slowest = max(fold_fit_seconds, default=0.0)
        needed = FIXED_RESERVE_SECONDS + slowest * (1 + refits)
        elastic = min(after_seconds, max(0.0, MAX_RESERVE_SHARE * self.time_budget - needed))
        return self.end - needed - elastic

    def member_refit_allowance(self, refits: int, after_seconds: float) -> float | None:
        """Seconds one blend member's refit may take so that every refit ends on time.

        A refit sees more rows than the inner fold its cost was measured on (1.5 times a
        fold's, for 3 folds), and there are ``refits`` of each member; None without a budget.
        """
        left = self.left()
        if left is None:
            return None
        return (left - FIXED_RESERVE_SECONDS - after_seconds) / (REFIT_GROWTH * refits)

    def affords_another_refit(self, last_refit_seconds: float) -> bool:
        """Does one more refit like the one just measured still end within the budget?

        A load spike can make refits slower than planned; the margin covers the refit on all
        rows seeing a quarter more rows than the one on the training rows.
        """
        left = self.left()
        return left is None or left - FIXED_RESERVE_SECONDS >= REFIT_ALL_ROWS_GROWTH * (
            last_refit_seconds
        )


@contextmanager
def clock_scope() -> Iterator[None]:
    """The clock a run starts inside this block is forgotten when the block ends, so nothing
    after the run (a report drawn later, say) mistakes that run's ended budget for its own."""
    token = _CURRENT.set(None)
    try:
        yield
    finally:
        _CURRENT.reset(token)


def seconds_left(time_budget: float | None, reserve: float = 0.0) -> float | None:
    """Seconds the run in progress may still spend, keeping ``reserve`` for what follows
    (never negative); None without a budget.

    ``time_budget`` is the budget of the run asking (from its model card): the current clock
    answers only if it has that budget, so a step drawn outside its run (a report rebuilt
    later, in a process whose last run had another budget) does not take the ended budget of
    another run for its own.
    """
    clock = _CURRENT.get()
    if time_budget is None or clock is None or clock.time_budget != time_budget:
        return None
    left = clock.left()
    return None if left is None else max(0.0, left - reserve)


def outer_fold_parallelism(cores: int, outer_folds: int) -> tuple[int, int]:
    """(outer folds run at once, cores each).

    With two or more cores every fold runs at once, so no core idles while a last batch
    runs alone (3 folds on 2 cores as batches [2, 1] left one idle a third of the time); the
    OS shares the cores between them. With one core they run one after another.
    """
    if cores <= 1:
        return 1, 1
    return outer_folds, max(1, cores // outer_folds)


def post_registration_seconds(report: bool, tracking: bool) -> float:
    """Seconds reserved for the steps after registration: the report and MLflow logging."""
    return (REPORT_SECONDS if report else 0.0) + (MLFLOW_SECONDS if tracking else 0.0)

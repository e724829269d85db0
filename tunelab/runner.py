"""How the engine's stages run: in this process by default, or as Prefect tasks (``flows/``).

The engine calls ``runner.stage(name, fn, **kwargs)`` for each stage and
``runner.map(name, fn, calls, workers)`` for the outer folds; a runner decides where that
happens and what is shown. The in-process runner needs no server and imports no Prefect.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol, TypeVar

from tunelab.config import UNLIMITED_EVALS
from tunelab.interrupt import STOP
from tunelab.search import ProgressCallback, TrialRecord, TrialStatus

T = TypeVar("T")


class Runner(Protocol):
    def stage(self, name: str, fn: Callable[..., T], /, **kwargs: Any) -> T: ...

    def map(
        self, name: str, fn: Callable[..., T], calls: list[dict[str, Any]], workers: int
    ) -> list[T]: ...

    def progress(self) -> ProgressCallback: ...

    def logger(self) -> logging.Logger | logging.LoggerAdapter: ...

    def publish(self, outcome: Any) -> None: ...


def describe_trial(record: TrialRecord, best: TrialRecord | None, max_evals: int) -> str:
    outcome = (
        f"score={record.score:.4f}"
        if record.status == TrialStatus.OK
        else f"{record.status}: {record.error}"
    )
    best_text = f"best={best.score:.4f} ({best.family})" if best else "best=none yet"
    of = f"/{max_evals}" if max_evals < UNLIMITED_EVALS else ""
    return (
        f"[{record.search}] trial {record.number + 1}{of} {record.family} {outcome} "
        f"| {best_text} | {record.fit_seconds:.1f}s"
    )


class TrialLogger:
    """A progress callback that logs one line per trial (picklable, for Dask workers)."""

    def __init__(self, logger_factory: Callable[[], logging.Logger | logging.LoggerAdapter]):
        self.logger_factory = logger_factory

    def __call__(self, record: TrialRecord, best: TrialRecord | None, max_evals: int) -> None:
        self.logger_factory().info(describe_trial(record, best, max_evals))


def tunelab_logger() -> logging.Logger:
    """``tunelab`` log lines on stderr, set up once, so local runs are never a silent terminal."""
    logger = logging.getLogger("tunelab")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    return logger


class LocalRunner:
    """Stages as plain calls; outer folds on a thread pool in this process."""

    def stage(self, name: str, fn: Callable[..., T], /, **kwargs: Any) -> T:
        return fn(**kwargs)

    def map(
        self, name: str, fn: Callable[..., T], calls: list[dict[str, Any]], workers: int
    ) -> list[T]:
        if workers <= 1:
            return [fn(**call) for call in calls]
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name) as pool:
            futures = [pool.submit(fn, **call) for call in calls]
            try:
                return [future.result() for future in futures]
            except BaseException:
                STOP.set()  # the other folds stop at their next fold boundary
                raise

    def progress(self) -> ProgressCallback:
        return TrialLogger(tunelab_logger)

    def logger(self) -> logging.Logger:
        return tunelab_logger()

    def publish(self, outcome: Any) -> None:
        """Nothing to publish without an orchestrator: the registry holds the record."""

"""The engine's stages as Prefect tasks: one task run per stage in the UI, folds in parallel."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows.executors import make_task_runner
from flows.reporting import publish_artifacts
from flows.retries import retry_unless_user_error
from tunelab.interrupt import STOP
from tunelab.runner import TrialLogger
from tunelab.search import ProgressCallback

T = TypeVar("T")

#: Stages that read or write files and may outlast a flaky disk or network share.
RETRIED_STAGES = {"load-and-validate", "register-model"}


class PrefectRunner:
    def __init__(self, dask_address: str | None = None):
        self.dask_address = dask_address

    def stage(self, name: str, fn: Callable[..., T], /, **kwargs: Any) -> T:
        options: dict[str, Any] = {"name": name, "cache_policy": NO_CACHE}
        if name in RETRIED_STAGES:
            options |= {
                "retries": 2,
                "retry_delay_seconds": 1,
                "retry_condition_fn": retry_unless_user_error,
            }
        return task(fn, **options)(**kwargs)

    def map(
        self, name: str, fn: Callable[..., T], calls: list[dict[str, Any]], workers: int
    ) -> list[T]:
        fold_task = task(name=name, task_run_name=name + "-{fold}", cache_policy=NO_CACHE)(fn)
        with make_task_runner(self.dask_address, workers) as runner:
            futures = [runner.submit(fold_task, parameters=call) for call in calls]
            try:
                return [future.result() for future in futures]
            except BaseException:
                STOP.set()
                raise

    def progress(self) -> ProgressCallback:
        return TrialLogger(get_run_logger)

    def logger(self):
        return get_run_logger()

    def publish(self, outcome: Any) -> None:
        publish_artifacts(outcome)

"""The engine's stages as Prefect tasks: one task run per stage in the UI, folds in parallel."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.task_runners import TaskRunner

from tunelab.flows.executors import make_task_runner
from tunelab.flows.reporting import publish_artifacts
from tunelab.flows.retries import retry_unless_user_error
from tunelab.interrupt import STOP
from tunelab.runner import TrialLogger
from tunelab.search import ProgressCallback
from tunelab.shared_table import write_table
from tunelab.trial_pool import use_dask_client

T = TypeVar("T")

#: Stages that read or write files and may outlast a flaky disk or network share.
RETRIED_STAGES = {"load-and-validate", "register-model"}


class PrefectRunner:
    """Stages as Prefect tasks; with a Dask address, one cluster for the whole run.

    Used as a context manager for a ``--dask`` run: the cluster starts once, runs the outer
    folds as task runs, and stays up for the final search, whose trials go to it as plain
    Dask tasks (:func:`tunelab.trial_pool.use_dask_client`). Without the block, each
    ``map`` opens and closes its own task runner.
    """

    def __init__(self, dask_address: str | None = None, cores: int = 1):
        self.dask_address, self.cores = dask_address, cores
        self._stack = contextlib.ExitStack()
        self._runner: TaskRunner | None = None

    def __enter__(self) -> PrefectRunner:
        if self.dask_address:
            runner = make_task_runner(self.dask_address, self.cores)
            self._runner = self._stack.enter_context(runner)
            self._stack.enter_context(use_dask_client(runner.client))  # type: ignore[attr-defined]
        return self

    def __exit__(self, *exc: object) -> None:
        self._runner = None
        self._stack.close()

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
        with contextlib.ExitStack() as stack:
            runner = self._runner or stack.enter_context(
                make_task_runner(self.dask_address, workers)
            )
            if self.dask_address:
                calls = tables_by_path(calls)
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


def tables_by_path(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The calls with each table (``X``, ``y``) replaced by a file in the run's directory.

    Every call names the same table, so it is written once and each Dask worker reads it
    once, instead of a pickled copy travelling in every task's arguments.
    """
    written: dict[int, Any] = {}
    shared = []
    for call in calls:
        run_dir = call.get("run_dir")
        if run_dir is None:
            return calls
        call = dict(call)
        for key in ("X", "y"):
            value = call[key]
            if id(value) not in written:
                written[id(value)] = write_table(value, Path(run_dir) / "shared" / f"{key}.parquet")
            call[key] = written[id(value)]
        shared.append(call)
    return shared

"""Where outer folds run: threads in this process, or an existing Dask cluster.

Outer folds are independent full searches, so they are the unit worth distributing; each
fold's trials stay sequential because TPE learns from the trials before.
"""

from __future__ import annotations

from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner

#: ``dask_address`` value that starts a throw-away Dask ``LocalCluster`` for the run.
LOCAL_DASK = "local"


def make_task_runner(dask_address: str, workers: int) -> TaskRunner:
    """``""`` -> threads; ``"local"`` -> a LocalCluster; anything else -> that scheduler address.

    On a remote cluster the workers must see the same data dir (run checkpoints are written
    where the fold runs) and have tunelab installed.
    """
    if not dask_address:
        return ThreadPoolTaskRunner(max_workers=workers)
    from prefect_dask import DaskTaskRunner

    if dask_address == LOCAL_DASK:
        return DaskTaskRunner(
            cluster_kwargs={"n_workers": workers, "threads_per_worker": 1, "processes": True}
        )
    return DaskTaskRunner(address=dask_address)

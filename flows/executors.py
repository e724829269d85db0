"""Where outer folds run as Prefect tasks: threads in this process, or a Dask cluster.

Outer folds are independent full searches, each a Prefect task run; on Dask the same
cluster also runs every search's trials (see :mod:`tunelab.trial_pool`), so a ``--dask local``
cluster has one single-thread worker per core the run may use.
"""

from __future__ import annotations

import logging
import os

from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner

from tunelab.flows.prefect_setup import running_api_url

#: ``dask_address`` value that starts a throw-away Dask ``LocalCluster`` for the run.
LOCAL_DASK = "local"


def make_task_runner(dask_address: str | None, workers: int) -> TaskRunner:
    """``None`` -> threads; ``"local"`` -> a LocalCluster; anything else -> that scheduler.

    Dask workers report their task runs to the Prefect API, so they need its address. With the
    embedded default there is no ``PREFECT_API_URL``: each worker would start a server of its
    own and time out. We hand them this process's server instead (workers inherit the
    environment); a remote cluster must reach that address and see the same data dir.
    """
    if not dask_address:
        return ThreadPoolTaskRunner(max_workers=max(1, workers))
    from prefect_dask import DaskTaskRunner

    os.environ.setdefault("PREFECT_API_URL", running_api_url())
    quiet_dask_shutdown()
    if dask_address == LOCAL_DASK:
        return DaskTaskRunner(
            cluster_kwargs={"n_workers": workers, "threads_per_worker": 1, "processes": True}
        )
    return DaskTaskRunner(address=dask_address)


def quiet_dask_shutdown() -> None:
    """Keep Dask's benign shutdown race out of the user's terminal.

    When the cluster closes, the scheduler's batched stream to a worker that has just left
    logs ``Batched Comm Closed`` at INFO *with a full traceback* (``distributed.batched``).
    Nothing failed, yet a newcomer sees a traceback; genuine write errors are logged at
    ERROR by the same logger and still show.
    """
    logging.getLogger("distributed.batched").setLevel(logging.WARNING)

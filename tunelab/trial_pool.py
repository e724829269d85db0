"""Where a search's trials run: one after another, on threads here, or on a Dask cluster.

A search asks :func:`open_pool` for a pool as wide as its share of the cores. Inside a Dask
worker (an outer fold run as a Dask task) or while a run has registered its Dask client
(:func:`use_dask_client`, the final search of a ``--dask`` run), trials go to that cluster;
otherwise to threads in this process. The table goes to a cluster once (:meth:`share`):
tasks receive a reference to it, never a pickled copy.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from typing import Any, Protocol

from tunelab.cores import split_cores

#: The Dask client of the run in progress (set by the Prefect runner of a ``--dask`` run).
_RUN_CLIENT: list[Any] = []


class TrialPool(Protocol):
    #: How many trials this pool runs at once.
    width: int
    #: True when trials run in other processes (they need :meth:`share`'d data).
    remote: bool

    def share(self, value: Any) -> Any: ...

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> Any: ...

    def first_done(self, futures: list[Any]) -> list[Any]: ...


class ThreadPool:
    """Trials on threads of this process (``width`` 1: inline, in the caller's thread).

    ``one_core``: the search has one core (``--n-jobs 1``, or an outer fold's share), so its
    inline trials keep to one thread too. Without it k-NN's distance step ran on OpenMP
    threads on every core whatever ``--n-jobs`` said.
    """

    remote = False

    def __init__(self, width: int, one_core: bool = False):
        self.width = max(1, width)
        self._executor = (
            ThreadPoolExecutor(self.width, "trial", initializer=one_openmp_thread)
            if self.width > 1
            else None
        )
        self._holds_blas = self.width > 1 or one_core
        if self._holds_blas:
            _BLAS.acquire()
        self._inline_one_core = self._executor is None and one_core
        self._openmp = one_openmp_thread() if self._inline_one_core else None

    def share(self, value: Any) -> Any:
        return value

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> Future:
        if self._executor is not None:
            return self._executor.submit(fn, *args)
        future: Future = Future()
        try:
            future.set_result(fn(*args))
        except BaseException as exc:  # an interrupt surfaces where the result is read
            future.set_exception(exc)
        return future

    def first_done(self, futures: list[Future]) -> list[Future]:
        return list(wait(futures, return_when=FIRST_COMPLETED).done)

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
        if self._holds_blas:
            _BLAS.release()
        if self._inline_one_core:
            restore_openmp_threads(self._openmp)


def one_openmp_thread() -> int | None:
    """A trial thread's OpenMP regions (k-NN distances, say) use one core: OpenMP's thread
    count is per calling thread, so this holds for this thread only. Returns the count it
    had (None: no OpenMP runtime loaded), for :func:`restore_openmp_threads`."""
    from threadpoolctl import threadpool_info, threadpool_limits

    counts = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "openmp"]
    threadpool_limits(limits=1, user_api="openmp")
    return max(counts, default=None)


def restore_openmp_threads(count: int | None) -> None:
    """This thread's OpenMP count back to ``count``; BLAS, process-wide, is left alone
    (:data:`_BLAS` restores it when its last holder lets go)."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=count, user_api="openmp")


class _OneBlasThread:
    """BLAS thread pools are process-wide: one thread while any search runs trials side by
    side (outer folds may each hold a pool), the original limits once the last one closes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holders = 0
        self._limits: Any = None

    def acquire(self) -> None:
        from threadpoolctl import threadpool_limits

        with self._lock:
            if self._holders == 0:
                self._limits = threadpool_limits(limits=1, user_api="blas")
            self._holders += 1

    def release(self) -> None:
        with self._lock:
            self._holders -= 1
            if self._holders == 0 and self._limits is not None:
                self._limits.restore_original_limits()
                self._limits = None


_BLAS = _OneBlasThread()


class DaskPool:
    """Trials as plain Dask tasks on the run's cluster; the search's log shows each one."""

    remote = True

    def __init__(self, client: Any, width: int):
        self.client, self.width = client, max(1, width)

    def share(self, value: Any) -> Any:
        # One copy on one worker; others fetch it once when a trial lands there.
        return self.client.scatter(value, hash=False)

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> Any:
        return self.client.submit(fn, *args, pure=False)

    def first_done(self, futures: list[Any]) -> list[Any]:
        from distributed import wait as dask_wait

        with self.client.as_current():  # wait() looks for the default client
            return list(dask_wait(futures, return_when="FIRST_COMPLETED").done)

    def close(self) -> None:
        """The cluster belongs to the run, not to the search."""


@contextmanager
def use_dask_client(client: Any) -> Iterator[None]:
    """While this block runs, searches in this process send their trials to ``client``."""
    _RUN_CLIENT.append(client)
    try:
        yield
    finally:
        _RUN_CLIENT.remove(client)


def cluster_threads(client: Any) -> int:
    return max(1, sum(client.nthreads().values()))


def _on_dask_worker() -> bool:
    distributed = sys.modules.get("distributed")
    if distributed is None:
        return False
    try:
        distributed.get_worker()
    except ValueError:
        return False
    return True


@contextmanager
def open_pool(
    local_width: int, searches_at_once: int = 1, one_core: bool = False
) -> Iterator[ThreadPool | DaskPool]:
    """The pool for one search: ``local_width`` trials at once on this machine's threads
    (``one_core``: the search has one core, see :class:`ThreadPool`).

    On a cluster the width is instead the search's share of the cluster's threads (the same
    rule as for local cores, :func:`tunelab.cores.split_cores`), whatever this machine has.
    On a Dask worker the search's task leaves the worker's thread count while it waits
    (``worker_client`` secedes), so its trials, and the other outer folds, use that thread.
    """
    if _on_dask_worker():
        from distributed import worker_client

        with worker_client() as client:
            width = split_cores(cluster_threads(client), searches_at_once).trials_per_search
            yield _dask_or_inline(client, width)
        return
    if _RUN_CLIENT:
        client = _RUN_CLIENT[-1]
        yield _dask_or_inline(client, split_cores(cluster_threads(client)).trials_per_search)
        return
    pool = ThreadPool(local_width, one_core)
    try:
        yield pool
    finally:
        pool.close()


def _dask_or_inline(client: Any, width: int) -> ThreadPool | DaskPool:
    return DaskPool(client, width) if width > 1 else ThreadPool(1)

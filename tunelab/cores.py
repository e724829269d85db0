"""How a run's cores are split: searches at once, trials at once in each, threads per trial.

One rule, used by the engine (outer folds, final search), the flows (the Dask cluster's size)
and the benchmarks, so what is measured is what runs. Why one thread per trial: linear and
k-NN fits use one core whatever they are given, and on the tables a trial sees (a share of an
inner fold) a booster gains little from a second thread, while a second trial at once doubles
the trials per second. The refits after a search still use every core of that search.
"""

from __future__ import annotations

from dataclasses import dataclass

from tunelab.budget import outer_fold_parallelism

#: Threads each trial's estimator gets when trials run at once.
THREADS_PER_TRIAL = 1


@dataclass(frozen=True)
class CoreSplit:
    """What a run with ``cores`` cores runs at once, and with how many threads."""

    #: Outer-fold searches at once, and the cores each of them has.
    searches: int
    cores_per_search: int
    #: Trials each search keeps running at once, and the threads each trial's fit uses.
    trials_per_search: int
    threads_per_trial: int


def trials_at_once(cores: int) -> int:
    """Trials a search with ``cores`` cores runs at once (1: one after another)."""
    return max(1, cores // THREADS_PER_TRIAL)


def threads_per_trial(cores: int, trials: int) -> int:
    """Threads of one trial's fit when ``trials`` share a search's ``cores``."""
    return max(1, cores // max(1, trials))


def split_cores(cores: int, searches: int = 1) -> CoreSplit:
    """The split for ``searches`` outer folds (or 1 for the final search) on ``cores`` cores."""
    running, per_search = outer_fold_parallelism(cores, searches) if searches > 1 else (1, cores)
    trials = trials_at_once(per_search)
    return CoreSplit(running, per_search, trials, threads_per_trial(per_search, trials))

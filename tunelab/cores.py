"""How a run's cores are split: searches at once, trials at once in each, threads per trial.

One rule, used by the engine (outer folds, final search), the flows (the Dask cluster's size)
and the benchmarks, so what is measured is what runs. Why one thread per trial: linear and
k-NN fits use one core whatever they are given, and on the tables a trial sees (a share of an
inner fold) a booster gains little from a second thread, while a second trial at once doubles
the trials per second. The refits after a search follow :func:`booster_threads`: boosters on
one thread below :data:`THREADED_BOOSTER_ROWS` rows, blend members fitted side by side.
"""

from __future__ import annotations

from dataclasses import dataclass

from tunelab.budget import outer_fold_parallelism

#: Threads each trial's estimator gets when trials run at once.
THREADS_PER_TRIAL = 1

#: Rows from which a LightGBM or XGBoost fit gets every core of its search. Below it a booster
#: fits on one thread: these libraries synchronise their OpenMP threads at every split, and
#: with the waiting threads asleep (``OMP_WAIT_POLICY=PASSIVE``, see ``tunelab/__init__.py``)
#: each wake-up costs more than a split of a small table. Measured on this 2-core machine
#: (``OMP_WAIT_POLICY=PASSIVE``, quiet): a 16,512-row LightGBM refit took 1.6-1.9 s on one
#: thread and 22.7-24.4 s on two; LightGBM on 20,000 / 100,000 / 400,000 synthetic rows took
#: 0.9 / 2.0 / 6.4 s on one thread and 3.5 / 5.8 / 7.9 s on two, XGBoost 1.0 / 2.0 / 7.0 s and
#: 1.3 / 2.0 / 5.0 s. With waiting threads spinning instead, a busy core stalls them (a
#: LightGBM refit on two threads beside one busy process: 6.7 s against 1.6 s on one).
THREADED_BOOSTER_ROWS = 200_000


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


def split_cores(cores: int, searches: int = 1, trial_rows: int = 0) -> CoreSplit:
    """The split for ``searches`` outer folds (or 1 for the final search) on ``cores`` cores,
    whose trials each fit on about ``trial_rows`` rows.

    A trial on :data:`THREADED_BOOSTER_ROWS` rows or more runs alone, on every core, and so
    does its search: its booster uses those cores by itself, while each search or trial at
    once holds its own copy of its rows and of their preprocessed matrix. On 1,000,000 x 20
    rows (a 137 MiB table) three outer folds at once, each with its trials, peaked 1.8 GiB
    above a small run's memory.
    """
    if trial_rows >= THREADED_BOOSTER_ROWS:
        return CoreSplit(1, cores, 1, cores)
    running, per_search = outer_fold_parallelism(cores, searches) if searches > 1 else (1, cores)
    trials = trials_at_once(per_search)
    return CoreSplit(running, per_search, trials, threads_per_trial(per_search, trials))


def trial_rows(rows: int, outer_folds: int, inner_folds: int, one_holdout: bool) -> int:
    """About how many rows one trial fits on, for a search over ``outer_folds`` folds of
    ``rows`` rows (1: the final search, on all of them)."""
    from tunelab.fidelity import HOLDOUT_SHARE, TRIAL_ROWS

    searched = rows * (outer_folds - 1) // outer_folds if outer_folds > 1 else rows
    if one_holdout:
        return min(int(searched * (1 - HOLDOUT_SHARE)), TRIAL_ROWS)
    return searched * (inner_folds - 1) // max(1, inner_folds)


def booster_threads(cores: int, rows: int) -> int:
    """Threads a LightGBM or XGBoost fit on ``rows`` rows gets out of ``cores``: one below
    :data:`THREADED_BOOSTER_ROWS`, where a second thread slows the fit down, else all."""
    return max(1, cores) if rows >= THREADED_BOOSTER_ROWS else 1

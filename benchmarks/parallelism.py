"""Trials per minute: one trial at a time vs trials at once, on threads and on Dask.

One search (``tunelab.search.run_search``, the loop every outer fold and the final search
run) over the linear and k-NN families, whose fits use one core, on a synthetic table
(default 20,000 x 20, binary), a fixed number of trials, no time budget. Modes, interleaved
within each seed so load on the machine hits them alike:

* ``sequential``: one trial at a time (``--n-jobs 1``);
* ``threads``: trials at once on this machine's cores (``--n-jobs`` = all cores), the split
  from ``tunelab.cores.split_cores``, as ``tunelab run`` uses it;
* ``dask-2``, ``dask-4``: the same search with its trials on a Dask ``LocalCluster`` of 2 and
  4 single-thread worker processes (started once, and their imports done, before the
  timings; the table is scattered to the workers once per search).

Prints trials per minute per mode and seed, the speed-up over ``sequential``, and whether
modes with the same width proposed the same trials (they must: see the README).

    python benchmarks/parallelism.py                  # 2 seeds, 30 trials each (~8 min)
    python benchmarks/parallelism.py --trials 8 --rows 1000 --seeds 1   # a quick check
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings
from typing import Any

import _common


def search_inputs(rows: int, seed: int) -> tuple[Any, Any, Any]:
    from tunelab.pipelines import infer_schema

    frame, target = _common.synthetic_frame(rows, 20, "binary", seed=seed)
    X, y = frame.drop(columns=[target]), frame[target]
    return X, y, infer_schema(X, y, "binary")


def timed_search(X, y, schema, seed: int, trials: int, cores: int, client=None) -> dict:
    from tunelab.cores import split_cores
    from tunelab.search import SearchSettings, run_search
    from tunelab.trial_pool import use_dask_client

    split = split_cores(cores)
    settings = SearchSettings(
        schema=schema,
        families=("linear", "knn"),
        metric="roc_auc",
        inner_folds=3,
        max_evals=trials,
        seed=seed,
        n_jobs=split.cores_per_search,
        concurrent_trials=split.trials_per_search,
    )
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if client is None:
            result = run_search(X, y, settings, label="final")
        else:
            with use_dask_client(client):
                result = run_search(X, y, settings, label="final")
    seconds = time.perf_counter() - started
    fitted = [t for t in result.trials if t.status != "skipped"]
    return {
        "seconds": seconds,
        "trials": len(fitted),
        "per_minute": 60 * len(fitted) / seconds,
        "signature": [(t.number, t.config, t.score) for t in result.trials],
    }


def start_cluster(workers: int) -> tuple[Any, Any, float]:
    from distributed import Client, LocalCluster

    started = time.perf_counter()
    cluster = LocalCluster(
        n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
    )
    client = Client(cluster)
    client.run(warm_up)  # what every trial imports: a worker's first trial does not pay it
    return cluster, client, time.perf_counter() - started


def warm_up() -> None:
    import tunelab.models.knn  # noqa: F401
    import tunelab.models.linear  # noqa: F401
    import tunelab.search  # noqa: F401


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--seeds", type=int, default=2)
    args = parser.parse_args()
    print(_common.machine_line())
    cores = os.cpu_count() or 1
    clusters = {f"dask-{n}": start_cluster(n) for n in (2, 4)}
    for name, (_, _, seconds) in clusters.items():
        print(f"{name}: LocalCluster started and warmed in {seconds:.1f}s (not timed below)")
    rows, by_mode = [], {}
    try:
        for seed in range(args.seeds):
            X, y, schema = search_inputs(args.rows, seed)
            modes = {"sequential": (1, None), "threads": (cores, None)}
            # On a cluster the width is its threads; the local cores only say "at once".
            modes |= {name: (2, client) for name, (_, client, _) in clusters.items()}
            for mode, (mode_cores, client) in modes.items():
                load = _common.load_average()
                run = timed_search(X, y, schema, seed, args.trials, mode_cores, client)
                by_mode.setdefault(mode, []).append(run)
                rows.append(
                    {"seed": seed, "mode": mode, "trials": run["trials"],
                     "seconds": round(run["seconds"], 1), "trials_per_min": run["per_minute"],
                     "load": load}
                )  # fmt: skip
                print(f"seed {seed} {mode}: {run['per_minute']:.1f} trials/min", flush=True)
    finally:
        for cluster, client, _ in clusters.values():
            client.close()
            cluster.close()
    _common.print_table("Trials per minute, by seed", rows)
    base = statistics.mean(r["per_minute"] for r in by_mode["sequential"])
    summary = [
        {"mode": mode, "trials_per_min": statistics.mean(r["per_minute"] for r in runs),
         "vs_sequential": statistics.mean(r["per_minute"] for r in runs) / base}
        for mode, runs in by_mode.items()
    ]  # fmt: skip
    _common.print_table("Mean over seeds", summary)
    same = all(
        a["signature"] == b["signature"]
        for a, b in zip(by_mode["threads"], by_mode["dask-2"], strict=True)
    )
    if cores == 2:
        print(f"\nthreads (2 at once) and dask-2 proposed the same trials: {same}")
    print(f"load average at the end: {_common.load_average()}")


if __name__ == "__main__":
    main()

"""Speed-up from running outer folds in parallel: one at a time vs threads vs a Dask cluster.

The same ``tunelab.train`` run (synthetic table, same seed and ``max_evals``, no time budget,
so only the execution mode differs):

* ``sequential``: ``n_jobs=1``, one outer fold after another, every fit on one core;
* ``threads``: ``n_jobs=2``, outer folds two at a time on threads (one core each), the final
  search and refits on both cores; run as a Prefect flow, and in-process as ``local-threads``
  (``orchestrate=False``);
* ``dask``: ``n_jobs=2, dask_address="local"``: outer folds on a fresh Dask ``LocalCluster``
  through prefect-dask (cluster start-up included).

Prints wall times, speed-up over the first mode, and whether outer-fold scores, winner and
test score match (outer folds fit on one core in every mode, so they must be identical).
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import _common

MODES: dict[str, dict[str, Any]] = {
    "sequential": {"n_jobs": 1},
    "threads": {"n_jobs": 2},
    "local-threads": {"n_jobs": 2, "orchestrate": False},
    "dask": {"n_jobs": 2, "dask_address": "local"},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--cols", type=int, default=20)
    parser.add_argument("--max-evals", type=int, default=8)
    parser.add_argument("--outer-folds", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=list(MODES))
    args = parser.parse_args()
    warnings.simplefilter("ignore")

    import tunelab

    print("# parallelism")
    print(_common.machine_line())
    work = Path(tempfile.mkdtemp(prefix="tunelab-bench-parallel-"))
    frame, target = _common.synthetic_frame(args.rows, args.cols, "binary", seed=args.seed)
    data = work / "synthetic.parquet"
    frame.to_parquet(data)
    print(f"data synthetic {args.rows} x {args.cols}, outer {args.outer_folds}, "
          f"max_evals {args.max_evals}, seed {args.seed}")  # fmt: skip
    if any(MODES[m].get("orchestrate", True) for m in args.modes):
        # Untimed: the first Prefect call of a process starts the embedded server.
        tunelab.train(data, target, name="warm-up", max_evals=1, outer_folds=2, data_dir=str(work))
    runs = []
    for mode in args.modes:
        start = time.perf_counter()
        result = tunelab.train(
            data, target, name=f"parallel-{mode}", max_evals=args.max_evals,
            outer_folds=args.outer_folds, seed=args.seed, data_dir=str(work), **MODES[mode],
        )  # fmt: skip
        wall = time.perf_counter() - start
        print(f"  {mode}: {wall:.1f}s", flush=True)
        runs.append((mode, wall, result))

    base_mode, base_wall, base = runs[0]
    rows = []
    for mode, wall, result in runs:
        rows.append(
            {
                "mode": mode,
                "wall s": wall,
                f"speed-up vs {base_mode}": base_wall / wall,
                "outer scores": " ".join(f"{s:.4f}" for s in result.outer_cv["scores"]),
                "same outer scores": yesno(result.outer_cv["scores"] == base.outer_cv["scores"]),
                "winner": result.best_family,
                "same winner config": yesno(result.best_config == base.best_config),
                "test score": result.test_score,
            }  # fmt: skip
        )
    _common.print_table("Wall time, speed-up and same results", rows)
    print(f"\nload average at the end: {_common.load_average()}")


def yesno(flag: bool) -> str:
    return "yes" if flag else "NO"


if __name__ == "__main__":
    main()

"""Speed-up from running outer folds in parallel: threads and a Dask cluster vs one at a time.

Runs the same ``train_flow`` (same data, seed and ``max_evals``, no time budget, so only the
execution mode differs) three ways under ``prefect_test_harness``:

* ``sequential``: ``n_jobs=1``: one outer fold after another, every fit on one core;
* ``threads``: ``n_jobs=2``: Prefect's ``ThreadPoolTaskRunner`` runs the outer folds two at a
  time (one core each), the final search and refit use both cores;
* ``dask``: ``n_jobs=2, dask_address="local"``: the outer folds run on a fresh Dask
  ``LocalCluster`` (two worker processes, via prefect-dask), the rest as in ``threads``.

It prints the wall time of each run and of its outer-fold phase (from the task runs the Prefect
API recorded), the speed-up over ``sequential``, and whether the outer-fold scores, the winner
and the test score match. Outer folds fit on one core in every mode, so their results must be
identical; the final search fits on two cores in ``threads``/``dask``, so those two must match
each other (LightGBM/XGBoost may differ from ``sequential`` in the last digits).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import _common

MODES = {
    "sequential": {"n_jobs": 1, "dask_address": ""},
    "threads": {"n_jobs": 2, "dask_address": ""},
    "dask": {"n_jobs": 2, "dask_address": "local"},
}


def outer_phase_seconds(task_rows: list[dict[str, Any]]) -> float:
    """From the first outer fold's start to the last one's end, as Prefect recorded them."""
    folds = [row for row in task_rows if row["task run"].startswith("outer-fold")]
    return max(r["ends at s"] for r in folds) - min(r["starts at s"] for r in folds)


def run_mode(mode: str, data: Path, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    from flows.training import train_flow

    start = time.perf_counter()
    state = train_flow(
        data=str(data),
        target="target",
        name=f"parallel-{mode}",
        max_evals=args.max_evals,
        outer_folds=args.outer_folds,
        inner_folds=args.inner_folds,
        seed=args.seed,
        families=args.families,
        data_dir=str(work),
        return_state=True,
        **MODES[mode],
    )
    wall = time.perf_counter() - start
    result = state.result()
    task_rows = _common.prefect_task_times(state.state_details.flow_run_id)
    metadata = json.loads((Path(result["path"]) / "metadata.json").read_text())
    print(f"  {mode}: {wall:.1f}s", flush=True)
    return {
        "mode": mode,
        "wall": wall,
        "outer phase": outer_phase_seconds(task_rows),
        "outer scores": [round(f["score"], 10) for f in metadata["metrics"]["outer_folds"]],
        "outer families": [f["family"] for f in metadata["metrics"]["outer_folds"]],
        "winner": result["best_family"],
        "best config": result["best_config"],
        "test score": result["test_score"],
        "trials": metadata["trials"]["total"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--cols", type=int, default=20)
    parser.add_argument("--max-evals", type=int, default=8)
    parser.add_argument("--outer-folds", type=int, default=2)
    parser.add_argument("--inner-folds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--families", nargs="+", default=None)
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=list(MODES))
    args = parser.parse_args()
    warnings.simplefilter("ignore")

    from prefect.testing.utilities import prefect_test_harness

    print("# parallelism")
    print(_common.machine_line())
    work = Path(tempfile.mkdtemp(prefix="tunelab-bench-"))
    frame, _ = _common.synthetic_frame(args.rows, args.cols, "binary", seed=args.seed)
    data = work / "synthetic.parquet"
    frame.to_parquet(data)
    print(
        f"data synthetic {args.rows} x {args.cols}, outer {args.outer_folds} x inner "
        f"{args.inner_folds}, max_evals {args.max_evals}, seed {args.seed}"
    )
    with prefect_test_harness(server_startup_timeout=120):
        runs = [run_mode(mode, data, args, work) for mode in args.modes]

    baseline = runs[0]
    threads = next((r for r in runs if r["mode"] == "threads"), None)
    rows = []
    for run in runs:
        rows.append(
            {
                "mode": run["mode"],
                "wall s": run["wall"],
                f"speed-up vs {baseline['mode']}": baseline["wall"] / run["wall"],
                "outer-fold phase s": run["outer phase"],
                "outer speed-up": baseline["outer phase"] / run["outer phase"],
                "trials": run["trials"],
                "outer scores": " ".join(f"{s:.4f}" for s in run["outer scores"]),
                "winner": run["winner"],
                "test score": run["test score"],
            }
        )
    _common.print_table("Wall time and speed-up", rows)

    checks = []
    for run in runs[1:]:
        checks.append(same_results(baseline, run, final_too=False))
        if threads is not None and run is not threads and run["mode"] != "sequential":
            checks.append(same_results(threads, run, final_too=True))
    if checks:
        _common.print_table("Same seed, same results?", checks)
    print(f"\nload average at the end: {_common.load_average()}")


def same_results(a: dict[str, Any], b: dict[str, Any], final_too: bool) -> dict[str, Any]:
    outer = a["outer scores"] == b["outer scores"] and a["outer families"] == b["outer families"]
    row = {"compared": f"{b['mode']} vs {a['mode']}", "outer folds identical": yesno(outer)}
    row["winner config identical"] = yesno(a["best config"] == b["best config"])
    row["test score identical"] = yesno(a["test score"] == b["test score"])
    row["expected identical"] = "all" if final_too else "outer folds"
    return row


def yesno(flag: bool) -> str:
    return "yes" if flag else "NO"


if __name__ == "__main__":
    main()

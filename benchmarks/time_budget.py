"""Does ``train_flow(time_budget=B)`` finish in B seconds?

Runs the training flow (under ``prefect_test_harness``) once per requested budget with a huge
``max_evals``, so only the budget can stop the searches, and prints requested vs actual wall
time, the relative error and how many trials finished. The flow splits 85% of the budget
evenly over its phases (outer-fold batches, then the final search); the final search then runs
until a reserve sized from the measured fold fit times (at most the other 15%) is left for the
refit and registration. A trial is only cut between its inner folds, and every search always
finishes at least one trial, so a budget can be overrun by up to one fold plus the refits.

Default data: the bundled churn example (800 rows, text, dates and gaps). ``--data`` takes any
CSV/Parquet path (with ``--target``) or ``synthetic:ROWS`` for a numeric binary table.
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
import pandas as pd

HUGE_MAX_EVALS = 100_000


def resolve_data(spec: str, target: str, work: Path) -> tuple[str, str]:
    if spec == "churn":
        from tunelab.cli import example_data_path

        return str(example_data_path()), "churned"
    if spec.startswith("synthetic:"):
        rows = int(spec.split(":", 1)[1])
        frame, name = _common.synthetic_frame(rows, 20, "binary", seed=0)
        path = work / f"synthetic-{rows}.parquet"
        frame.to_parquet(path)
        return str(path), name
    if not target:
        raise SystemExit("--target is required with a data path")
    return spec, target


def phase_table(entry_path: Path) -> list[dict[str, Any]]:
    board = pd.read_csv(entry_path / "leaderboard.csv")
    rows = []
    for search, group in board.groupby("search", sort=True):
        rows.append(
            {
                "search": search,
                "trials": len(group),
                "ok": int((group["status"] == "ok").sum()),
                "pruned": int((group["status"] == "pruned").sum()),
                "failed/cut": int((group["status"] == "failed").sum()),
                "skipped": int((group["status"] == "skipped").sum()),
                "sum trial s": float(group["fit_seconds"].sum()),
                "longest trial s": float(group["fit_seconds"].max()),
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budgets", type=float, nargs="+", default=[20.0, 60.0])
    parser.add_argument("--data", default="churn", help="'churn', 'synthetic:ROWS' or a path")
    parser.add_argument("--target", default="")
    parser.add_argument("--outer-folds", type=int, default=3)
    parser.add_argument("--inner-folds", type=int, default=3)
    parser.add_argument("--n-jobs", type=int, default=-1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--families", nargs="+", default=None)
    args = parser.parse_args()
    warnings.simplefilter("ignore")

    from prefect.testing.utilities import prefect_test_harness

    from flows.planning import SEARCH_SHARE_OF_BUDGET
    from flows.training import train_flow

    print("# time_budget")
    print(_common.machine_line())
    work = Path(tempfile.mkdtemp(prefix="tunelab-bench-"))
    data, target = resolve_data(args.data, args.target, work)
    print(
        f"data {args.data} (target {target}), outer {args.outer_folds} x inner "
        f"{args.inner_folds}, n_jobs {args.n_jobs}, max_evals {HUGE_MAX_EVALS}, "
        f"search share of budget {SEARCH_SHARE_OF_BUDGET}"
    )
    rows = []
    phases = []
    with prefect_test_harness(server_startup_timeout=120):
        for budget in args.budgets:
            start = time.perf_counter()
            result = train_flow(
                data=data,
                target=target,
                name="budget",
                max_evals=HUGE_MAX_EVALS,
                time_budget=budget,
                outer_folds=args.outer_folds,
                inner_folds=args.inner_folds,
                seed=args.seed,
                families=args.families,
                n_jobs=args.n_jobs,
                data_dir=str(work),
            )
            wall = time.perf_counter() - start
            entry = Path(result["path"])
            meta = json.loads((entry / "metadata.json").read_text())
            trials = meta["trials"]
            per_search = phase_table(entry)
            for row in per_search:
                phases.append({"budget s": budget, **row})
            rows.append(
                {
                    "budget s": budget,
                    "actual wall s": wall,
                    "flow elapsed_seconds": meta["elapsed_seconds"],
                    "error %": 100 * (wall - budget) / budget,
                    "within 10%": "yes" if abs(wall - budget) <= 0.1 * budget else "NO",
                    "trials": trials["total"],
                    "pruned": trials.get("pruned", 0),
                    "failed/cut": trials["failed"],
                    "skipped": trials["skipped"],
                    "longest trial s": max(r["longest trial s"] for r in per_search),
                    "test score": result["test_score"],
                    "winner": result["best_family"],
                }
            )
            print(f"  budget {budget:g}s -> {wall:.1f}s, {trials['total']} trials", flush=True)

    _common.print_table("Requested vs actual wall time of train_flow", rows)
    _common.print_table("Trials per search", phases)
    print(f"\nload average at the end: {_common.load_average()}")


if __name__ == "__main__":
    main()

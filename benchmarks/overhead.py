"""Time a tunelab run spends outside model fitting, with and without Prefect.

The same training run (synthetic table, fixed ``max_evals``, no time budget) is made through
the public API three ways: ``tunelab.engine.train`` (the procedure itself, in this process),
``tunelab.train(orchestrate=False)`` and ``tunelab.train()`` (a Prefect flow run; the first
call in a process also starts Prefect's embedded server, so it runs ``--prefect-repeats``
times; an untimed engine run first pays for lazy imports). With ``--n-jobs 1`` (default)
outer folds run one after another, so the wall time can be compared with the sum of the
trials' own ``fit_seconds`` (build + fit + score of every inner fold, timed inside the
search): the rest is the outer folds' and final refits, loading, validation, TPE,
checkpoints, registration, the report and, for Prefect, task and API traffic.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import _common
import pandas as pd


def fit_seconds_of(location: str) -> tuple[int, float]:
    board = pd.read_csv(Path(location) / "leaderboard.csv")
    return len(board), float(board["fit_seconds"].sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--cols", type=int, default=20)
    parser.add_argument("--max-evals", type=int, default=6)
    parser.add_argument("--outer-folds", type=int, default=2)
    parser.add_argument("--n-jobs", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-report", action="store_true", help="report=False in every run")
    parser.add_argument("--prefect-repeats", type=int, default=2)
    parser.add_argument(
        "--modes", nargs="+", default=["engine", "api-local", "api-prefect"],
        choices=["engine", "api-local", "api-prefect"],
    )  # fmt: skip
    args = parser.parse_args()
    warnings.simplefilter("ignore")

    import tunelab
    from tunelab.config import RunConfig
    from tunelab.engine import train as engine_train

    print("# overhead")
    print(_common.machine_line())
    work = Path(tempfile.mkdtemp(prefix="tunelab-bench-overhead-"))
    frame, target = _common.synthetic_frame(args.rows, args.cols, "binary", seed=args.seed)
    data = work / "synthetic.parquet"
    frame.to_parquet(data)
    settings: dict[str, Any] = dict(
        max_evals=args.max_evals, outer_folds=args.outer_folds, n_jobs=args.n_jobs,
        seed=args.seed, data_dir=str(work), report=not args.no_report,
    )  # fmt: skip
    print(f"data synthetic {args.rows} x {args.cols}, settings {settings}", flush=True)

    runs: list[tuple[str, Any]] = []
    if "engine" in args.modes:
        runs.append(
            (
                "engine.train",
                lambda: (
                    engine_train(
                        RunConfig.create(data=str(data), target=target, name="engine", **settings)
                    ).result
                ),
            )
        )
    if "api-local" in args.modes:
        runs.append(
            (
                "train(orchestrate=False)",
                lambda: tunelab.train(data, target, orchestrate=False, name="local", **settings),
            )
        )
    if "api-prefect" in args.modes:
        for i in range(args.prefect_repeats):
            label = "train() Prefect, 1st call" if i == 0 else f"train() Prefect, call {i + 1}"
            runs.append((label, lambda: tunelab.train(data, target, name="prefect", **settings)))

    # Untimed: the first run of a process pays for lazy imports (scikit-learn, LightGBM, ...).
    engine_train(RunConfig.create(data=str(data), target=target, name="warm-up", **settings))
    rows = []
    for label, call in runs:
        start = time.perf_counter()
        result = call()
        wall = time.perf_counter() - start
        trials, fit = fit_seconds_of(result.location)
        rows.append(
            {
                "how": label,
                "wall s": wall,
                "trials": trials,
                "sum fit_seconds s": fit,
                "outside trials s": wall - fit,
                "outside trials %": 100 * (wall - fit) / wall,
                "per trial ms": 1000 * (wall - fit) / trials,
                "test score": result.test_score,
            }  # fmt: skip
        )
        print(f"  {label}: {wall:.1f}s, {trials} trials, fit {fit:.1f}s", flush=True)
    _common.print_table("Wall time vs the trials' own fit time", rows)
    base = rows[0]["wall s"]
    for row in rows[1:]:
        print(f"{row['how']}: {row['wall s'] - base:+.1f}s vs {rows[0]['how']}")
    print(f"\nload average at the end: {_common.load_average()}")


if __name__ == "__main__":
    main()

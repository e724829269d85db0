"""tunelab on a big synthetic table: wall time, time per trial and peak memory.

Default: 1,000,000 rows x 50 float columns (binary target) written to Parquet, then one
``tunelab.train(orchestrate=False)`` run (the engine in this process) with ``max_evals`` 2
over the lightgbm and linear families, 2 outer x 3 inner folds, ``n_jobs`` 2, no report.
Memory: the process's peak RSS (``getrusage``) and the highest RSS a 0.1 s sampling thread
saw during the run. Trials come from the registered leaderboard.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
import warnings
from pathlib import Path

import _common
import pandas as pd


class RssSampler(threading.Thread):
    def __init__(self, interval: float = 0.1):
        super().__init__(daemon=True)
        self.interval, self.peak, self.stop = interval, 0.0, threading.Event()

    def run(self) -> None:
        while not self.stop.wait(self.interval):
            self.peak = max(self.peak, _common.current_rss_mib())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--cols", type=int, default=50)
    parser.add_argument("--families", default="lightgbm,linear")
    parser.add_argument("--max-evals", type=int, default=2)
    parser.add_argument("--outer-folds", type=int, default=2)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--prefect", action="store_true", help="run it as a Prefect flow run")
    args = parser.parse_args()
    warnings.simplefilter("ignore")

    import tunelab

    print("# scale")
    print(_common.machine_line())
    work = Path(tempfile.mkdtemp(prefix="tunelab-bench-scale-"))
    with _common.Stopwatch() as sw:
        frame, target = _common.synthetic_frame(args.rows, args.cols, "binary", args.seed)
        frame.to_parquet(work / "big.parquet")
    size = frame.memory_usage(deep=True).sum() / 2**20
    del frame
    rss = _common.current_rss_mib()
    print(
        f"  made and wrote {args.rows} x {args.cols} ({size:.0f} MiB in memory): "
        f"{sw.seconds:.1f}s; RSS now {rss:.0f} MiB",
        flush=True,
    )

    sampler = RssSampler()
    sampler.start()
    start = time.perf_counter()
    result = tunelab.train(
        work / "big.parquet", target, orchestrate=args.prefect, name="scale",
        families=args.families.split(","), max_evals=args.max_evals,
        outer_folds=args.outer_folds, n_jobs=args.n_jobs, seed=args.seed,
        data_dir=str(work), report=False,
    )  # fmt: skip
    wall = time.perf_counter() - start
    sampler.stop.set()
    sampler.join()

    board = pd.read_csv(Path(result.location) / "leaderboard.csv")
    board["error"] = board["error"].fillna("").astype(str).str[:50]
    rows = [
        {"search": r.search, "trial": r.number, "family": r.family, "status": r.status,
         "score": r.score, "fit s": r.fit_seconds, "error": r.error}
        for r in board.sort_values(["search", "number"]).itertuples()
    ]  # fmt: skip
    _common.print_table("Trials", rows)
    _common.print_table(
        "Run",
        [{"wall s": wall, "trials": len(board), "mean fit s per trial": board["fit_seconds"].mean(),
          "peak RSS sampled MiB": sampler.peak, "process peak RSS MiB": _common.peak_rss_mib(),
          "table MiB": size, "test score": result.test_score, "winner": result.best_family}],
    )  # fmt: skip
    print(f"\nload average at the end: {_common.load_average()}")


if __name__ == "__main__":
    main()

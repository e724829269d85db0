"""tunelab on a big synthetic table: time per trial and peak memory.

Default: 1,000,000 rows x 50 float columns (binary target), ``run_search`` with max_evals 2
over the lightgbm and linear families and 3 inner folds, then the winner refitted on 80% of
the rows and scored on the other 20% (what the flow's final refit does). ``--flow`` also runs
the whole Prefect flow (``train_flow``, 2 outer folds) on the same table written to Parquet.

Memory is reported two ways: the process's peak RSS so far (``getrusage`` ``ru_maxrss``,
monotonic) and the highest RSS seen by a 0.1 s sampling thread during each stage, so each
stage's own peak is visible even after an earlier stage set the process maximum.
"""

from __future__ import annotations

import argparse
import os
import re
import tempfile
import threading
import warnings
from pathlib import Path
from typing import Any

import _common

from pipelines import infer_schema
from tunelab.holdout import split_holdout
from tunelab.nested_cv import fit_and_score
from tunelab.search import TrialRecord, run_search


class RssSampler:
    """Background thread keeping the highest RSS of the current stage and of the current trial."""

    def __init__(self, interval: float = 0.1):
        self.interval = interval
        self.stage_peak = self.window_peak = _common.current_rss_mib()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._see(_common.current_rss_mib())

    def _see(self, rss: float) -> None:
        self.stage_peak = max(self.stage_peak, rss)
        self.window_peak = max(self.window_peak, rss)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def take_window(self) -> float:
        """Peak since the previous window (one trial), then start a new window."""
        self._see(_common.current_rss_mib())
        peak, self.window_peak = self.window_peak, _common.current_rss_mib()
        return peak

    def take_stage(self) -> float:
        """Peak since the previous stage, then start a new stage (and window)."""
        self._see(_common.current_rss_mib())
        peak = self.stage_peak
        self.stage_peak = self.window_peak = _common.current_rss_mib()
        return peak


def folds_run(record: TrialRecord, inner_folds: int) -> int:
    """Inner folds a trial actually fitted: pruned trials stop early ("pruned after 1 of 3")."""
    match = re.search(r"after (\d+) of \d+ folds", record.error)
    return int(match.group(1)) if match else inner_folds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--cols", type=int, default=50)
    parser.add_argument("--task", choices=("binary", "regression"), default="binary")
    parser.add_argument("--families", nargs="+", default=["lightgbm", "linear"])
    parser.add_argument("--max-evals", type=int, default=2)
    parser.add_argument("--inner-folds", type=int, default=3)
    parser.add_argument("--n-jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--flow", action="store_true", help="also run train_flow on the table")
    parser.add_argument("--outer-folds", type=int, default=2, help="for --flow")
    args = parser.parse_args()
    warnings.simplefilter("ignore")

    print("# scale")
    print(_common.machine_line())
    stages: list[dict[str, Any]] = []
    with RssSampler() as sampler:
        sampler.take_stage()

        def stage(name: str, seconds: float, **extra: Any) -> None:
            stages.append(
                {
                    "stage": name,
                    "seconds": seconds,
                    "stage peak RSS MiB": sampler.take_stage(),
                    "process peak RSS MiB": _common.peak_rss_mib(),
                    **extra,
                }
            )
            print(f"  {name}: {seconds:.1f}s", flush=True)

        stage("python + imports", 0.0)
        with _common.Stopwatch() as sw:
            frame, target = _common.synthetic_frame(args.rows, args.cols, args.task, args.seed)
        size = frame.memory_usage(deep=True).sum() / 2**20
        stage(f"make {args.rows} x {args.cols} table ({size:.0f} MiB)", sw.seconds)

        with _common.Stopwatch() as sw:
            held = split_holdout(
                frame.drop(columns=[target]), frame[target], args.task, 0.2, args.seed
            )
            X_train, X_test, y_train, y_test = held.X_train, held.X_test, held.y_train, held.y_test
            schema = infer_schema(X_train, y_train, args.task)
        stage("hold-out split + infer_schema", sw.seconds)

        settings = _common.search_settings(schema, args)
        trial_rows: list[dict[str, Any]] = []

        def on_trial(record: TrialRecord, best: Any, max_evals: int) -> None:
            model = record.config["model"]
            trial_rows.append(
                {
                    "trial": record.number,
                    "family": record.family,
                    "select": record.config["feature_selection"]["method"],
                    "key params": ", ".join(
                        f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                        for k, v in model.items()
                        if k in ("n_estimators", "num_leaves", "C", "alpha", "learning_rate")
                    ),
                    "status": record.status,
                    "score": record.score,
                    "trial s": record.fit_seconds,
                    "folds run": folds_run(record, args.inner_folds),
                    "s per fold": record.fit_seconds / folds_run(record, args.inner_folds),
                    "peak RSS MiB": sampler.take_window(),
                    "error": record.error[:60],
                }
            )
            print(f"  trial {record.number}: {record.family} {record.fit_seconds:.1f}s", flush=True)

        with _common.Stopwatch() as sw:
            search = run_search(X_train, y_train, settings, label="final", progress=on_trial)
        stage(f"run_search ({len(search.trials)} trials)", sw.seconds)

        with _common.Stopwatch() as sw:
            _, test = fit_and_score(search.best_config, settings, X_train, y_train, X_test, y_test)
        stage(f"refit winner on {len(X_train)} rows + test", sw.seconds, score=test)

        if args.flow:
            from prefect.testing.utilities import prefect_test_harness

            from flows.training import train_flow

            work = Path(tempfile.mkdtemp(prefix="tunelab-bench-"))
            with _common.Stopwatch() as sw:
                frame.to_parquet(work / "big.parquet")
            stage("write Parquet", sw.seconds)
            del frame, held, X_train, X_test, y_train, y_test
            with prefect_test_harness(server_startup_timeout=120):
                with _common.Stopwatch() as sw:
                    result = train_flow(
                        data=str(work / "big.parquet"),
                        target=target,
                        name="scale",
                        max_evals=args.max_evals,
                        outer_folds=args.outer_folds,
                        inner_folds=args.inner_folds,
                        seed=args.seed,
                        families=args.families,
                        n_jobs=args.n_jobs,
                        data_dir=str(work),
                    )
                stage(
                    f"train_flow ({args.outer_folds} outer folds + final)",
                    sw.seconds,
                    score=result["test_score"],
                )

    _common.print_table(
        f"Trials ({len(X_train) if not args.flow else 'search'} training rows, "
        f"{args.inner_folds} inner folds, n_jobs {args.n_jobs})",
        trial_rows,
    )
    _common.print_table("Stages", stages)
    if trial_rows:
        total = sum(r["trial s"] for r in trial_rows)
        folds = sum(r["folds run"] for r in trial_rows)
        print(
            f"\nmean time per trial: {total / len(trial_rows):.1f}s "
            f"({total / folds:.1f}s per fitted fold, {folds} folds in {len(trial_rows)} trials)"
        )
    print(f"peak RSS of the process: {_common.peak_rss_mib():.0f} MiB")
    print(f"load average at the end: {_common.load_average()}")


if __name__ == "__main__":
    main()

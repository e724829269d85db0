"""Orchestration overhead of tunelab: search wall time vs the model work inside it.

Part 1 (``run_search``): one TPE search, checkpointed after every trial like the flow does.
Its wall time is compared with

* the sum of the trials' own ``TrialRecord.fit_seconds`` (build + fit + score of every inner
  fold, timed inside the objective), and
* the same configurations refitted outside tunelab on the same inner folds (``build_pipeline``,
  ``fit``, scorer), timed here with nothing else around them.

``overhead = wall / sum(trial seconds) - 1``. What is left is TPE's ``suggest``, hyperopt's
per-call ``fmin`` set-up, the history rebuilt from ``Trials`` and the atomic pickle checkpoint.
The target is overhead <= 10% once trials take >= 1 s; the default 20k-row table makes typical
trials last about a second on 2 cores.

Part 2 (``train_flow``): the full Prefect flow under ``prefect_test_harness`` (a local
temporary API server). Its wall time is compared with the sum of all its trials'
``fit_seconds`` plus the refits the flow does besides trials (each outer fold's winner, the final
winner), re-measured here. The rest is Prefect task/state/log traffic, loading, validation,
fingerprinting, registration and artifacts. With ``--flow-n-jobs 1`` (default) outer folds run
one after another, so the sums are directly comparable with wall time; with more cores the
flow runs outer folds concurrently and the critical path (slowest fold of each batch) is used.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import statistics
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import _common
import pandas as pd
from flows.planning import outer_fold_parallelism
from sklearn.metrics import get_scorer

from pipelines import build_pipeline, infer_schema
from tunelab.nested_cv import fit_and_score
from tunelab.search import (
    SearchSettings,
    TrialRecord,
    make_cv,
    record_from_trial,
    run_search,
)

DEFAULT_FAMILIES = ["linear", "random_forest", "extra_trees", "knn", "xgboost", "lightgbm"]


def refit_seconds(
    config: dict[str, Any], settings: SearchSettings, X: pd.DataFrame, y: pd.Series
) -> float:
    """The trial's model work alone: the same inner folds, fitted and scored outside tunelab."""
    scorer = get_scorer(settings.metric)
    splits = list(make_cv(settings.schema.task, settings.inner_folds, settings.seed).split(X, y))
    start = time.perf_counter()
    for train_idx, val_idx in splits:
        model = build_pipeline(config, settings.schema, seed=settings.seed, n_jobs=settings.n_jobs)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(X.iloc[train_idx], y.iloc[train_idx])
            scorer(model, X.iloc[val_idx], y.iloc[val_idx])
    return time.perf_counter() - start


def part_search(args: argparse.Namespace, X: pd.DataFrame, y: pd.Series) -> dict[str, Any]:
    schema = infer_schema(X, y, args.task)
    settings = _common.search_settings(schema, args)
    checkpoint = Path(tempfile.mkdtemp(prefix="tunelab-bench-")) / "final.trials.pkl"
    # The outside refit runs inside the progress callback, right after its trial, so both see
    # the same machine load; the callback's own time is then taken out of the search's wall time.
    gaps: list[float] = []
    raws: list[float | None] = []
    paused = 0.0
    last = time.perf_counter()

    def on_trial(record: TrialRecord, best: Any, max_evals: int) -> None:
        nonlocal last, paused
        entered = time.perf_counter()
        gaps.append(entered - last)
        raw = None
        if not args.no_recompute and record.status == "ok":
            raw = refit_seconds(record.config, settings, X, y)
        raws.append(raw)
        last = time.perf_counter()
        paused += last - entered

    start = last = time.perf_counter()
    result = run_search(
        X,
        y,
        settings,
        label="final",
        checkpoint=None if args.no_checkpoint else checkpoint,
        progress=on_trial,
    )
    wall = time.perf_counter() - start - paused

    rows = []
    for record, gap, raw in zip(result.trials, gaps, raws, strict=True):
        rows.append(
            {
                "trial": record.number,
                "family": record.family,
                "select": record.config["feature_selection"]["method"],
                "status": record.status,
                "fit_seconds": record.fit_seconds,
                "refit outside s": raw,
                "wall between trials s": gap,
                "overhead ms": 1000 * (gap - record.fit_seconds),
            }
        )
    _common.print_table(
        f"run_search: {len(X)} rows x {X.shape[1]} cols, {args.inner_folds} inner folds, "
        f"n_jobs {args.n_jobs}, checkpoint {'off' if args.no_checkpoint else 'on'}",
        rows,
    )
    fit_total = sum(r.fit_seconds for r in result.trials)
    overheads = [r["overhead ms"] for r in rows]
    long_rows = [r for r in rows if r["fit_seconds"] >= 1.0]
    summary = [
        {"quantity": "search wall time s", "value": wall},
        {"quantity": "trials (evaluated)", "value": result.n_evaluated},
        {"quantity": "sum of TrialRecord.fit_seconds s", "value": fit_total},
        {"quantity": "overhead vs fit_seconds %", "value": 100 * (wall / fit_total - 1)},
        {"quantity": "per-trial overhead median ms", "value": statistics.median(overheads)},
        {"quantity": "per-trial overhead max ms", "value": max(overheads)},
        {"quantity": "trials with fit_seconds >= 1 s", "value": len(long_rows)},
    ]
    if long_rows:
        long_fit = sum(r["fit_seconds"] for r in long_rows)
        long_gap = sum(r["wall between trials s"] for r in long_rows)
        summary.append(
            {"quantity": "overhead on trials >= 1 s %", "value": 100 * (long_gap / long_fit - 1)}
        )
    recomputed = [row for row in rows if row["refit outside s"] is not None]
    if recomputed:
        ok_fit = sum(row["fit_seconds"] for row in recomputed)
        raw_total = sum(row["refit outside s"] for row in recomputed)
        ok_gap = sum(row["wall between trials s"] for row in recomputed)
        summary += [
            {"quantity": "ok trials: sum fit_seconds s", "value": ok_fit},
            {"quantity": "ok trials: sum refit outside s", "value": raw_total},
            {"quantity": "ok trials: wall between trials s", "value": ok_gap},
            {"quantity": "overhead vs refit outside %", "value": 100 * (ok_gap / raw_total - 1)},
        ]
    _common.print_table("run_search overhead summary", summary)
    return {"wall": wall, "fit": fit_total}


def trials_of_run(run_dir: Path, label: str) -> list[TrialRecord]:
    done = run_dir / f"{label}.result.json"
    if done.exists():
        return [TrialRecord(**t) for t in json.loads(done.read_text())["trials"]]
    with (run_dir / f"{label}.trials.pkl").open("rb") as handle:
        trials = pickle.load(handle)
    return [record_from_trial(label, t) for t in trials.trials if t["result"].get("status")]


def part_flow(args: argparse.Namespace, frame: pd.DataFrame) -> None:
    from prefect.testing.utilities import prefect_test_harness

    from flows.training import train_flow

    work = Path(tempfile.mkdtemp(prefix="tunelab-bench-"))
    data = work / "synthetic.parquet"
    frame.to_parquet(data)
    harness_start = time.perf_counter()
    with prefect_test_harness(server_startup_timeout=120):
        harness_seconds = time.perf_counter() - harness_start
        start = time.perf_counter()
        state = train_flow(
            data=str(data),
            target="target",
            name="overhead",
            max_evals=args.flow_max_evals,
            outer_folds=args.outer_folds,
            inner_folds=args.inner_folds,
            seed=args.seed,
            families=args.families,
            n_jobs=args.flow_n_jobs,
            data_dir=str(work),
            return_state=True,
        )
        wall = time.perf_counter() - start
        result = state.result()
        task_rows = _common.prefect_task_times(state.state_details.flow_run_id)

    run_dir = work / "runs" / result["run_id"]
    metadata = json.loads((Path(result["path"]) / "metadata.json").read_text())
    cores = metadata["parameters"]["n_jobs"]
    workers, cores_per_fold = outer_fold_parallelism(cores, args.outer_folds)
    X_all = frame.drop(columns=["target"])
    y_all = frame["target"]
    X_train, y_train = X_all.loc[result["train_rows"]], y_all.loc[result["train_rows"]]
    X_test, y_test = X_all.loc[result["test_rows"]], y_all.loc[result["test_rows"]]
    schema = infer_schema(X_train, y_train, metadata["task"])
    base = dict(
        schema=schema,
        families=tuple(metadata["parameters"]["families"]),
        metric=metadata["metric"],
        inner_folds=args.inner_folds,
        max_evals=args.flow_max_evals,
        seed=args.seed,
    )
    outer_settings = SearchSettings(**base, n_jobs=cores_per_fold)
    final_settings = SearchSettings(**base, n_jobs=cores)

    rows = []
    fold_costs = []
    for fold in range(args.outer_folds):
        saved = json.loads((run_dir / f"outer-{fold}.result.json").read_text())
        records = [TrialRecord(**t) for t in saved["trials"]]
        start_refit = time.perf_counter()
        fit_and_score(
            saved["best_config"],
            outer_settings,
            X_train.loc[saved["train_rows"]],
            y_train.loc[saved["train_rows"]],
            X_train.loc[saved["validation_rows"]],
            y_train.loc[saved["validation_rows"]],
        )
        refit = time.perf_counter() - start_refit
        trial_sum = sum(r.fit_seconds for r in records)
        fold_costs.append(trial_sum + refit)
        rows.append(
            {
                "search": f"outer-{fold}",
                "trials": len(records),
                "sum fit_seconds": trial_sum,
                "refit winner s": refit,
            }
        )
    final_records = trials_of_run(run_dir, "final")
    start_refit = time.perf_counter()
    fit_and_score(result["best_config"], final_settings, X_train, y_train, X_test, y_test)
    final_refit = time.perf_counter() - start_refit
    final_sum = sum(r.fit_seconds for r in final_records)
    rows.append(
        {
            "search": "final",
            "trials": len(final_records),
            "sum fit_seconds": final_sum,
            "refit winner s": final_refit,
        }
    )
    _common.print_table(
        f"train_flow: {len(frame)} rows, outer {args.outer_folds} x inner {args.inner_folds}, "
        f"max_evals {args.flow_max_evals}, n_jobs {cores} ({workers} outer fold(s) at a time)",
        rows,
    )
    batches = [fold_costs[i : i + workers] for i in range(0, len(fold_costs), workers)]
    critical = sum(max(batch) for batch in batches) + final_sum + final_refit
    serial = sum(fold_costs) + final_sum + final_refit
    summary = [
        {"quantity": "prefect_test_harness start-up s (not in wall)", "value": harness_seconds},
        {"quantity": "flow wall time s", "value": wall},
        {"quantity": "flow's own elapsed_seconds (metadata)", "value": metadata["elapsed_seconds"]},
        {"quantity": "trials + refits, serial sum s", "value": serial},
        {"quantity": "trials + refits, critical path s", "value": critical},
        {"quantity": "non-model time s (wall - critical path)", "value": wall - critical},
        {"quantity": "overhead vs critical path %", "value": 100 * (wall / critical - 1)},
        {
            "quantity": "overhead per trial ms",
            "value": 1000 * (wall - critical) / (sum(r["trials"] for r in rows) or 1),
        },
    ]
    _common.print_table("train_flow overhead summary", summary)
    _common.print_table("Prefect task runs (times from the flow run's start)", task_rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--cols", type=int, default=20)
    parser.add_argument("--task", choices=("binary", "regression"), default="binary")
    parser.add_argument("--families", nargs="+", default=DEFAULT_FAMILIES)
    parser.add_argument("--max-evals", type=int, default=12, help="trials of the run_search part")
    parser.add_argument("--inner-folds", type=int, default=3)
    parser.add_argument("--n-jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-checkpoint", action="store_true")
    parser.add_argument("--no-recompute", action="store_true", help="skip refits outside tunelab")
    parser.add_argument("--skip-search", action="store_true")
    parser.add_argument("--skip-flow", action="store_true")
    parser.add_argument("--flow-max-evals", type=int, default=6)
    parser.add_argument("--outer-folds", type=int, default=2)
    parser.add_argument("--flow-n-jobs", type=int, default=1)
    args = parser.parse_args()
    warnings.simplefilter("ignore")

    print("# overhead")
    print(_common.machine_line())
    frame, _ = _common.synthetic_frame(args.rows, args.cols, args.task, seed=args.seed)
    X, y = frame.drop(columns=["target"]), frame["target"]
    if not args.skip_search:
        part_search(args, X, y)
    if not args.skip_flow:
        part_flow(args, frame)
    print(f"\nload average at the end: {_common.load_average()}")


if __name__ == "__main__":
    main()

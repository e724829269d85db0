"""The training flow: validate -> hold out -> nested CV of the TPE search -> refit -> register."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows.executors import make_task_runner
from flows.planning import (
    check_run_manifest,
    default_model_name,
    final_search_deadline,
    outer_fold_parallelism,
    plan_outer_deadlines,
    resolve_n_jobs,
)
from flows.progress import trial_logger
from flows.reporting import leaderboard_frame, publish_artifacts
from flows.retries import retry_unless_user_error
from pipelines import DataSchema, infer_schema
from tunelab.errors import ParameterError
from tunelab.holdout import HoldoutSplit, split_holdout
from tunelab.nested_cv import (
    OuterFoldResult,
    evaluate_outer_fold,
    final_search,
    fit_and_score,
    outer_splits,
    summarise,
)
from tunelab.paths import data_dir as resolve_data_dir
from tunelab.prepare import PreparedData, prepare_data
from tunelab.provenance import library_versions
from tunelab.registry import ModelRegistry, RegisteredModel, new_run_id
from tunelab.search import SearchResult, SearchSettings
from tunelab.space import describe_space, resolve_families
from tunelab.task import TaskOption


@task(
    name="load-and-validate",
    cache_policy=NO_CACHE,
    retries=2,
    retry_delay_seconds=1,
    retry_condition_fn=retry_unless_user_error,
)
def load_and_validate(data: str, target: str, **options: Any) -> PreparedData:
    prepared = prepare_data(data, target, **options)
    logger = get_run_logger()
    logger.info(
        "Loaded %d rows x %d features; task=%s metric=%s",
        len(prepared.features),
        prepared.features.shape[1],
        prepared.task,
        prepared.metric,
    )
    if prepared.dropped_target_rows:
        logger.warning("Dropped %d rows with a missing target", prepared.dropped_target_rows)
    return prepared


@task(name="holdout-split", cache_policy=NO_CACHE)
def holdout_split(prepared: PreparedData, test_size: float, seed: int) -> HoldoutSplit:
    """The test rows leave here and are not touched again until the final score."""
    return split_holdout(prepared.features, prepared.target, prepared.task, test_size, seed)


@task(name="outer-fold", task_run_name="outer-fold-{fold}", cache_policy=NO_CACHE)
def outer_fold_task(
    split: HoldoutSplit,
    fold: int,
    train_idx: np.ndarray,
    val_idx: np.ndarray,
    settings: SearchSettings,
    run_dir: Path,
    deadline: float | None,
) -> OuterFoldResult:
    logger = get_run_logger()
    result = evaluate_outer_fold(
        split.X_train,
        split.y_train,
        fold,
        train_idx,
        val_idx,
        settings,
        run_dir,
        deadline=deadline,
        progress=trial_logger(logger),
    )
    logger.info(
        "Outer fold %d: %s scored %.4f on its held-out part (inner CV best %.4f)",
        fold,
        result.family,
        result.score,
        result.inner_best_score,
    )
    return result


@task(name="final-search", cache_policy=NO_CACHE)
def final_search_task(
    split: HoldoutSplit, settings: SearchSettings, run_dir: Path, deadline: float | None
) -> SearchResult:
    logger = get_run_logger()
    return final_search(
        split.X_train,
        split.y_train,
        settings,
        run_dir,
        deadline=deadline,
        progress=trial_logger(logger),
    )


@task(name="refit-and-test", cache_policy=NO_CACHE)
def refit_and_test(config: dict[str, Any], settings: SearchSettings, split: HoldoutSplit):
    """The only place the held-out test rows are scored, once, by the refitted winner."""
    return fit_and_score(config, settings, split.X_train, split.y_train, split.X_test, split.y_test)


@task(
    name="register-model",
    cache_policy=NO_CACHE,
    retries=2,
    retry_delay_seconds=1,
    retry_condition_fn=retry_unless_user_error,
)
def register_model(
    registry_root: Path, name: str, model: Any, metadata: dict[str, Any], leaderboard: pd.DataFrame
) -> RegisteredModel:
    entry = ModelRegistry(registry_root).register(name, model, metadata, leaderboard)
    get_run_logger().info("Registered %s v%d at %s", entry.name, entry.version, entry.path)
    return entry


@flow(name="tunelab-train", log_prints=True)
def train_flow(
    data: str,
    target: str,
    name: str = "",
    task: TaskOption = "auto",
    metric: str = "",
    max_evals: int = 30,
    time_budget: float | None = None,
    outer_folds: int = 3,
    inner_folds: int = 3,
    test_size: float = 0.2,
    seed: int = 0,
    families: list[str] | None = None,
    n_jobs: int = -1,
    trial_timeout: float | None = None,
    data_dir: str = "",
    run_id: str = "",
    dask_address: str = "",
) -> dict[str, Any]:
    """Finds the best pipeline for `target` in `data` and registers it.

    Args:
        data: CSV or Parquet file with one row per example.
        target: Column to predict.
        name: Registry name; default: file name stem and target, e.g. churn-churned.
        task: auto, binary, multiclass or regression.
        metric: scikit-learn scorer name; default roc_auc / neg_log_loss / r2 by task.
        max_evals: TPE trials per search (each outer fold and the final search).
        time_budget: Seconds for the whole run; the best model so far is registered when it ends.
        outer_folds: Outer folds of nested CV (the performance estimate).
        inner_folds: Inner folds that score each TPE trial.
        test_size: Share of rows held out for the single final test score.
        seed: Seed for splits, TPE and models; the same seed gives the same winner.
        families: Model families to search; default all.
        n_jobs: CPU cores to use (-1 = all).
        trial_timeout: Seconds after which a trial is cut between folds and marked failed.
        data_dir: Folder for the registry and run checkpoints; default $TUNELAB_HOME, else
            ./tunelab-data.
        run_id: Reuse a previous run id to resume a crashed run without redoing finished trials.
        dask_address: Run outer folds on Dask: "local" starts a LocalCluster, or give a
            scheduler address (tcp://host:8786); empty runs them in threads here.
    """
    logger = get_run_logger()
    started = time.time()
    if time_budget is not None and time_budget <= 0:
        raise ParameterError(f"time_budget must be positive, got {time_budget}")
    prepared = load_and_validate(
        data,
        target,
        task=task,
        metric=metric or None,
        outer_folds=outer_folds,
        inner_folds=inner_folds,
        test_size=test_size,
        max_evals=max_evals,
    )
    family_names = resolve_families(families, prepared.task)
    split = holdout_split(prepared, test_size, seed)
    schema: DataSchema = infer_schema(split.X_train, split.y_train, prepared.task)
    for column in schema.columns:
        if column.role == "dropped":
            logger.warning("Column %r is not used: %s", column.name, column.reason)

    root = resolve_data_dir(data_dir or None)
    run_id = run_id or new_run_id()
    run_dir = root / "runs" / run_id
    check_run_manifest(
        run_dir,
        {
            "data_fingerprint": prepared.fingerprint,
            "target": target,
            "task": prepared.task,
            "metric": prepared.metric,
            "seed": seed,
            "test_size": test_size,
            "outer_folds": outer_folds,
            "inner_folds": inner_folds,
            "max_evals": max_evals,
            "families": family_names,
        },
    )
    logger.info("Run %s: checkpoints in %s", run_id, run_dir)

    cores = resolve_n_jobs(n_jobs)
    workers, cores_per_fold = outer_fold_parallelism(cores, outer_folds)
    base = dict(
        schema=schema,
        families=tuple(family_names),
        metric=prepared.metric,
        inner_folds=inner_folds,
        max_evals=max_evals,
        seed=seed,
        trial_timeout=trial_timeout,
    )
    outer_settings = SearchSettings(**base, n_jobs=cores_per_fold)
    final_settings = SearchSettings(**base, n_jobs=cores)
    batches = [list(range(outer_folds))[i : i + workers] for i in range(0, outer_folds, workers)]
    batch_deadlines = plan_outer_deadlines(started, time_budget, len(batches))

    splits = outer_splits(split.y_train, outer_settings, outer_folds)
    outer_results: list[OuterFoldResult] = []
    with make_task_runner(dask_address, workers) as runner:
        for batch, deadline in zip(batches, batch_deadlines, strict=True):
            futures = [
                runner.submit(
                    outer_fold_task,
                    parameters=dict(
                        split=split,
                        fold=fold,
                        train_idx=splits[fold][0],
                        val_idx=splits[fold][1],
                        settings=outer_settings,
                        run_dir=run_dir,
                        deadline=deadline,
                    ),
                )
                for fold in batch
            ]
            outer_results.extend(future.result() for future in futures)

    fold_seconds = [
        t.fit_seconds / inner_folds for r in outer_results for t in r.trials if t.status == "ok"
    ]
    final_deadline = final_search_deadline(started, time_budget, fold_seconds)
    final = final_search_task(split, final_settings, run_dir, final_deadline)
    model, test_score = refit_and_test(final.best_config, final_settings, split)

    records = [t for r in outer_results for t in r.trials] + final.trials
    leaderboard = leaderboard_frame(records)
    outer_summary = summarise([r.score for r in outer_results])
    metadata = {
        "task": prepared.task,
        "target": target,
        "metric": prepared.metric,
        "seed": seed,
        "run_id": run_id,
        "data": {
            "source": str(data),
            "fingerprint": prepared.fingerprint,
            "train_rows": len(split.X_train),
            "test_rows": len(split.X_test),
            "dropped_target_rows": prepared.dropped_target_rows,
        },
        "parameters": {
            "max_evals": max_evals,
            "time_budget": time_budget,
            "outer_folds": outer_folds,
            "inner_folds": inner_folds,
            "test_size": test_size,
            "families": family_names,
            "n_jobs": cores,
            "trial_timeout": trial_timeout,
        },
        "metrics": {
            "outer_cv": outer_summary,
            "outer_folds": [
                {
                    "fold": r.fold,
                    "family": r.family,
                    "score": r.score,
                    "inner_best_score": r.inner_best_score,
                }
                for r in outer_results
            ],
            "final_inner_cv": final.best_score,
            "test_score": test_score,
        },
        "best": {"family": final.best_config["model"]["family"], "config": final.best_config},
        "search_space": describe_space(prepared.task, family_names),
        "schema": schema.to_dict(),
        "versions": library_versions(),
        "trials": {
            "total": len(records),
            "failed": sum(r.status == "failed" for r in records),
            "skipped": sum(r.status == "skipped" for r in records),
            "pruned": sum(r.status == "pruned" for r in records),
        },
        "elapsed_seconds": time.time() - started,
    }
    entry = register_model(
        root / "registry", name or default_model_name(data, target), model, metadata, leaderboard
    )
    publish_artifacts(entry, leaderboard)
    logger.info(
        "Done in %.0fs: nested CV %s %.4f ± %.4f, test %.4f, winner %s -> %s v%d",
        metadata["elapsed_seconds"],
        prepared.metric,
        outer_summary["mean"],
        outer_summary["std"],
        test_score,
        metadata["best"]["family"],
        entry.name,
        entry.version,
    )
    return {
        "name": entry.name,
        "version": entry.version,
        "path": str(entry.path),
        "run_id": run_id,
        "task": prepared.task,
        "metric": prepared.metric,
        "outer_cv": outer_summary,
        "test_score": test_score,
        "best_family": metadata["best"]["family"],
        "best_config": final.best_config,
        "train_rows": split.X_train.index.tolist(),
        "test_rows": split.X_test.index.tolist(),
        "search_rows": sorted(
            {row for r in outer_results for row in r.train_rows + r.validation_rows}
        ),
    }

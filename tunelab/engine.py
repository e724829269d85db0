"""The training procedure, in plain Python: one function, orchestration injected.

validate -> hold out -> nested CV (outer folds, each a full search) -> final search, started
from what the outer folds learned -> refit and test once -> optionally refit on every row ->
register. :func:`train` runs it through a :class:`~tunelab.runner.Runner`: in this process by
default, or as Prefect tasks when ``flows.training`` calls it, so the CLI, the Python API, the
Prefect UI and the benchmarks all run this same code.
"""

from __future__ import annotations

import threading
import time
from importlib import import_module
from typing import Any, cast

import pandas as pd

from tunelab.budget import (
    FIXED_RESERVE_SECONDS,
    MLFLOW_SECONDS,
    REPORT_SECONDS,
    RunClock,
    clock_scope,
)
from tunelab.call_context import CALL_STARTED
from tunelab.card import (
    DataSummary,
    Metrics,
    ModelCard,
    OuterFoldSummary,
    TrialCounts,
)
from tunelab.config import RunConfig
from tunelab.cores import split_cores
from tunelab.ensemble import affordable, describe, member_fold_seconds
from tunelab.fidelity import families_for_size, order_for_size
from tunelab.interrupt import STOP
from tunelab.outcome import RunOutcome, TrainingResult
from tunelab.runner import LocalRunner, Runner
from tunelab.runs import check_run_manifest, default_model_name, new_run_id, resolve_n_jobs
from tunelab.search import SearchSettings, TrialStatus
from tunelab.stages import (
    holdout_split,
    leaderboard_frame,
    load_and_validate,
    refit_and_test,
    refit_on_all_rows,
    register_model,
    track_in_mlflow,
    write_report,
)


def train(
    config: RunConfig, runner: Runner | None = None, started: float | None = None
) -> RunOutcome:
    """Runs the whole procedure for ``config``; returns the registered result and its record.

    The run's clock is current only while it runs (``clock_scope``), so nothing drawn after
    it (a report rebuilt later) takes this run's ended budget for its own.
    """
    with clock_scope():
        return _train(config, runner, started)


def _train(config: RunConfig, runner: Runner | None, started: float | None) -> RunOutcome:
    from pipelines import infer_schema
    from tunelab.nested_cv import (
        best_outer_configuration,
        best_outer_fold,
        evaluate_outer_fold,
        final_search,
        final_starting_points,
        no_time_for_a_trial,
        outer_splits,
        summarise,
    )
    from tunelab.paths import data_dir as resolve_data_dir
    from tunelab.provenance import library_versions
    from tunelab.space import describe_space, portfolio_configs, resolve_families
    from tunelab.tracking import tracking_uri_from

    runner = runner or LocalRunner()
    clock = RunClock.start(config.time_budget, started or CALL_STARTED.get())
    STOP.clear()
    log = runner.logger()
    if config.report:  # plotting libraries load while the search runs, not after it
        threading.Thread(target=import_module, args=("tunelab.report",), daemon=True).start()

    prepared = runner.stage("load-and-validate", load_and_validate, config=config)
    log.info(
        "Loaded %d rows x %d features; task=%s metric=%s",
        len(prepared.features),
        prepared.features.shape[1],
        prepared.task,
        prepared.metric,
    )
    if prepared.dropped_target_rows:
        log.warning("Dropped %d rows with a missing target", prepared.dropped_target_rows)
    families = families_for_size(
        resolve_families(config.families, prepared.task), len(prepared.features),
        requested=bool(config.families),
    )  # fmt: skip
    split = runner.stage(
        "holdout-split", holdout_split, prepared=prepared, test_size=config.test_size,
        seed=config.seed,
    )  # fmt: skip
    schema = infer_schema(split.X_train, split.y_train, prepared.task)
    for column in schema.columns:
        if column.role == "dropped":
            log.warning("Column %r is not used: %s", column.name, column.reason)

    root = resolve_data_dir(config.data_dir)
    run_id = config.run_id or new_run_id()
    run_dir = root / "runs" / run_id
    check_run_manifest(
        run_dir,
        {
            **config.resume_manifest(),
            "data_fingerprint": prepared.fingerprint,
            "task": prepared.task,
            "metric": prepared.metric,
            "families": families,
        },
    )
    log.info("Run %s: checkpoints in %s", run_id, run_dir)

    cores = resolve_n_jobs(config.n_jobs)
    outer_split, final_split = split_cores(cores, config.outer_folds), split_cores(cores)
    workers, cores_per_fold = outer_split.searches, outer_split.cores_per_search
    base = dict(
        schema=schema,
        families=tuple(families),
        metric=prepared.metric,
        inner_folds=config.inner_folds,
        max_evals=config.trials_per_search,
        seed=config.seed,
        trial_timeout=config.trial_timeout,
        ensemble_rounds=config.ensemble_size,
    )
    outer_settings = SearchSettings(
        **base, n_jobs=cores_per_fold, concurrent_trials=outer_split.trials_per_search,
        searches_at_once=workers,
    )  # fmt: skip
    final_settings = SearchSettings(
        **base, n_jobs=cores, concurrent_trials=final_split.trials_per_search
    )
    portfolio = order_for_size(portfolio_configs(prepared.task, families), len(split.X_train))

    folds = list(range(config.outer_folds))
    batches = [folds[i : i + workers] for i in range(0, len(folds), workers)]
    deadlines = clock.outer_deadlines(config.estimate_share, len(batches))
    splits = outer_splits(split.y_train, outer_settings, config.outer_folds)
    progress = runner.progress()
    calls = [
        dict(
            X=split.X_train,
            y=split.y_train,
            fold=fold,
            train_idx=splits[fold][0],
            val_idx=splits[fold][1],
            settings=outer_settings,
            run_dir=run_dir,
            deadline=deadline,
            progress=progress,
            starting_points=portfolio,
        )
        for batch, deadline in zip(batches, deadlines, strict=True)
        for fold in batch
    ]
    outer_results = runner.map("outer-fold", evaluate_outer_fold, calls, workers)
    for fold_result in outer_results:
        log.info(
            "Outer fold %d: %s scored %.4f on its held-out part (inner CV best %.4f)",
            fold_result.fold,
            fold_result.family,
            fold_result.score,
            fold_result.inner_best_score,
        )

    fold_seconds = [
        t.fit_seconds / max(1, len(t.fold_scores))  # one fold per trial on large tables
        for r in outer_results
        for t in r.trials
        if t.status == TrialStatus.OK
    ]
    refits = 2 if config.refit_full else 1
    after = (REPORT_SECONDS if config.report else 0.0) + (
        MLFLOW_SECONDS if tracking_uri_from(config.mlflow) else 0.0
    )
    final_deadline = clock.final_deadline(fold_seconds, refits, after)
    if no_time_for_a_trial(final_deadline, outer_results):
        # Even one trial on all training rows would overrun: ship the configuration that
        # did best on the outer folds' held-out parts instead of overrunning the budget.
        final = best_outer_configuration(outer_results)
        log.warning("No time left for the final search; shipping the best outer-fold winner")
    else:
        final = runner.stage(
            "final-search",
            final_search,
            X=split.X_train,
            y=split.y_train,
            settings=final_settings,
            run_dir=run_dir,
            deadline=final_deadline,
            progress=progress,
            starting_points=final_starting_points(outer_results, portfolio),
        )
    shipped = final.shipped
    if len(shipped) > 1 and clock.end is not None:
        # A blend refits its members one after another: keep what the time left allows.
        per_refit = (clock.end - time.time() - FIXED_RESERVE_SECONDS - after) / (1.5 * refits)
        # Member numbers are trials of the search that chose the blend: the final search, or
        # (when it was skipped) the best outer fold's.
        chosen_by = final.trials or best_outer_fold(outer_results).trials
        trimmed = affordable(shipped, member_fold_seconds(chosen_by), limit_seconds=per_refit)
        if len(trimmed) < len(shipped):
            log.info("Kept %d of %d blend members to end on time", len(trimmed), len(shipped))
            shipped = trimmed
    if len(shipped) > 1:
        log.info(
            "Shipping %s (its out-of-fold %s %.4f; best single pipeline %.4f)",
            describe(shipped), prepared.metric, final.ensemble_score, final.best_score,
        )  # fmt: skip
    refit_started = time.time()
    model, test_score = runner.stage(
        "refit-and-test", refit_and_test, members=shipped, settings=final_settings,
        split=split,
    )  # fmt: skip
    # A load spike can make the refits slower than planned: refit on all rows only if one
    # more refit like the one just measured still ends within the budget.
    left = clock.left()
    refit_full = config.refit_full and (
        left is None or left - FIXED_RESERVE_SECONDS >= 1.25 * (time.time() - refit_started)
    )
    if config.refit_full and not refit_full:
        log.warning(
            "No time left to refit on all rows; shipping the model fitted on the training rows"
        )
    if refit_full:
        model = runner.stage(
            "refit-on-all-rows",
            refit_on_all_rows,
            members=shipped,
            settings=final_settings,
            X=pd.concat([split.X_train, split.X_test]),
            y=pd.concat([split.y_train, split.y_test]),
        )

    records = [t for r in outer_results for t in r.trials] + final.trials
    outer_summary = summarise([r.score for r in outer_results])
    name = config.name or default_model_name(config.data, config.target)
    card = ModelCard(
        task=prepared.task,
        target=config.target,
        metric=prepared.metric,
        seed=config.seed,
        run_id=run_id,
        data=DataSummary(
            source=str(config.data),
            fingerprint=prepared.fingerprint,
            train_rows=len(split.X_train),
            test_rows=len(split.X_test),
            dropped_target_rows=prepared.dropped_target_rows,
        ),
        # As resolved for this run (the metric and task chosen, the cores used), not as typed.
        parameters={
            **config.parameters(),
            "task": prepared.task,
            "metric": prepared.metric,
            "max_evals": config.trials_per_search,
            "families": families,
            "n_jobs": cores,
        },
        metrics=Metrics(
            outer_cv=outer_summary,
            outer_folds=[
                OuterFoldSummary(r.fold, r.family, r.score, r.inner_best_score)
                for r in outer_results
            ],
            final_inner_cv=final.best_score,
            test_score=test_score,
        ),
        best={
            "family": describe(shipped),
            "config": final.best_config,
            "ensemble": [m.to_dict() for m in shipped] if len(shipped) > 1 else [],
            "ensemble_oof_score": final.ensemble_score,
        },
        trials=TrialCounts(
            total=len(records),
            failed=sum(r.status == TrialStatus.FAILED for r in records),
            skipped=sum(r.status == TrialStatus.SKIPPED for r in records),
            pruned=sum(r.status == TrialStatus.PRUNED for r in records),
            cut=sum(r.status == TrialStatus.CUT for r in records),
        ),
        refit_full=refit_full,
        search_space=describe_space(prepared.task, families),
        schema=schema.to_dict(),
        versions=library_versions(),
        elapsed_seconds=clock.elapsed(),
    )
    entry = runner.stage(
        "register-model",
        register_model,
        data_dir=config.data_dir,
        name=name,
        model=model,
        metadata=card.to_dict(),
        leaderboard=leaderboard_frame(records),
    )
    result = TrainingResult(
        name=entry.name,
        version=entry.version,
        location=str(entry.path),
        run_id=run_id,
        task=prepared.task,
        metric=prepared.metric,
        outer_cv=outer_summary,
        test_score=test_score,
        best_family=card.best_family,
        best_config=final.best_config,
        refit_full=refit_full,
        elapsed_seconds=clock.elapsed(),
    )
    outcome = RunOutcome(result, card, records, model, split.X_test, split.y_test)
    report_html = None
    if config.report:
        from tunelab.report import ReportInputs

        inputs = ReportInputs(
            card=card.to_dict(),
            trials=cast(Any, records),  # duck-typed: the report does not import the search
            model=model,
            X_test=split.X_test,
            y_test=split.y_test,
            name=entry.name,
            version=entry.version,
        )
        figures, report_html = runner.stage(
            "write-report",
            write_report,
            data_dir=config.data_dir,
            name=entry.name,
            version=entry.version,
            inputs=inputs,
        )
        outcome.report = (inputs, figures)
    runner.publish(outcome)
    tracking_uri = tracking_uri_from(config.mlflow)
    if tracking_uri:
        runner.stage(
            "track-mlflow",
            track_in_mlflow,
            tracking_uri=tracking_uri,
            outcome=outcome,
            report_html=report_html,
            log=log,
        )
    log.info(
        "Done in %.0fs: nested CV %s %.4f ± %.4f, test %.4f, winner %s -> %s v%d",
        time.time() - clock.started,
        prepared.metric,
        outer_summary["mean"],
        outer_summary["std"],
        test_score,
        card.best_family,
        entry.name,
        entry.version,
    )
    return outcome

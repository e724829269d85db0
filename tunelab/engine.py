"""The training procedure, in plain Python: its stages in order, orchestration injected.

validate -> hold out -> estimate (nested CV: outer folds, each a full search) -> choose (the
final search, started from what the outer folds learned, and its blend) -> refit and test
once -> register -> publish. :func:`train` runs it through a :class:`~tunelab.runner.Runner`:
in this process by default, or as Prefect tasks when ``flows.training`` calls it, so the CLI,
the Python API, the Prefect UI and the benchmarks all run this same code. Each stage below is
a function with typed inputs and outputs; the budget's arithmetic lives in
:mod:`tunelab.budget`, the card's assembly in :mod:`tunelab.card`.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, replace
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import pandas as pd

from tunelab.budget import RunClock, clock_scope, post_registration_seconds
from tunelab.call_context import CALL_STARTED
from tunelab.card import CardInputs, ModelCard, assemble_card
from tunelab.config import RunConfig
from tunelab.cores import split_cores, trial_rows
from tunelab.ensemble import Member, affordable, describe, member_refit_seconds
from tunelab.interrupt import STOP
from tunelab.outcome import RunOutcome, TrainingResult
from tunelab.prepare import without_rows
from tunelab.runner import LocalRunner, Runner
from tunelab.runs import check_run_manifest, default_model_name, new_run_id, resolve_n_jobs
from tunelab.search import (
    SearchResult,
    SearchSettings,
    TrialRecord,
    TrialStatus,
    affordable_single,
    trials_on_one_holdout,
)
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

if TYPE_CHECKING:
    from tunelab.holdout import HoldoutSplit
    from tunelab.nested_cv import OuterFoldResult
    from tunelab.pipelines import DataSchema
    from tunelab.prepare import PreparedData
    from tunelab.retraining import RetrainingInputs


@dataclass
class Run:
    """What every stage of one run shares: its settings, where it runs, its clock and log."""

    config: RunConfig
    runner: Runner
    clock: RunClock
    log: Any

    @property
    def tracking_uri(self) -> str | None:
        from tunelab.tracking import tracking_uri_from

        return tracking_uri_from(self.config.mlflow)

    @property
    def after_registration(self) -> float:
        """Seconds reserved for what follows registration (report, MLflow)."""
        return post_registration_seconds(self.config.report, self.tracking_uri is not None)


@dataclass
class Plan:
    """How this run's searches are set up, decided once the training rows are known."""

    run_id: str
    run_dir: Path
    families: list[str]
    schema: DataSchema
    workers: int
    outer: SearchSettings
    final: SearchSettings
    portfolio: list[dict[str, Any]]
    #: The champion, parent and drift check of a retraining run (empty without one).
    retraining: RetrainingInputs
    #: Refit the winner on every row after its test score (``--refit-full``, below
    #: :data:`tunelab.fidelity.LARGE_ROWS` training rows: see :func:`refits_on_all_rows`).
    refit_full: bool = True


@dataclass
class Choice:
    """What the final search (or, without time for it, the best outer fold) chose to ship."""

    search: SearchResult
    shipped: list[Member]


@dataclass
class Fitted:
    """The model to register and its one score on the held-out test rows."""

    model: Any
    test_score: float
    refit_full: bool


def train(
    config: RunConfig, runner: Runner | None = None, started: float | None = None
) -> RunOutcome:
    """Runs the whole procedure for ``config``; returns the registered result and its record.

    The run's clock is current only while it runs (``clock_scope``), so nothing drawn after
    it (a report rebuilt later) takes this run's ended budget for its own.
    """
    with clock_scope():
        run = start(config, runner, started)
        prepared = validate(run)
        split = hold_out(run, prepared)
        prepared = without_rows(prepared)  # the split holds the rows now
        plan = make_plan(run, prepared, split)
        outer_results = estimate(run, plan, split)
        choice = choose(run, plan, split, outer_results)
        fitted = refit_and_score(run, plan, split, choice)
        champion = judge(run, plan, prepared, split, fitted)
        records = [t for r in outer_results for t in r.trials] + choice.search.trials
        card = assemble_card(
            CardInputs(config, prepared, split, plan.run_id, plan.families, plan.final.n_jobs),
            plan.schema, outer_results, choice.search, choice.shipped, fitted.test_score,
            fitted.refit_full, records, run.clock.elapsed(),
            extra=plan.retraining.card_fields(champion),
        )  # fmt: skip
        outcome = register(run, card, fitted, records, split, champion)
        publish(run, outcome)
        return outcome


def start(config: RunConfig, runner: Runner | None, started: float | None) -> Run:
    """The run's clock starts at the user's call; plotting libraries load in the background."""
    runner = runner or LocalRunner()
    clock = RunClock.start(config.time_budget, started or CALL_STARTED.get())
    STOP.clear()
    if config.report:  # plotting libraries load while the search runs, not after it
        threading.Thread(target=import_module, args=("tunelab.report",), daemon=True).start()
    return Run(config, runner, clock, runner.logger())


def validate(run: Run) -> PreparedData:
    prepared = run.runner.stage("load-and-validate", load_and_validate, config=run.config)
    run.log.info(
        "Loaded %d rows x %d features; task=%s metric=%s",
        len(prepared.features), prepared.features.shape[1], prepared.task, prepared.metric,
    )  # fmt: skip
    if prepared.dropped_target_rows:
        run.log.warning("Dropped %d rows with a missing target", prepared.dropped_target_rows)
    return cast("PreparedData", prepared)


def hold_out(run: Run, prepared: PreparedData) -> HoldoutSplit:
    config = run.config
    return cast(
        "HoldoutSplit",
        run.runner.stage(
            "holdout-split",
            holdout_split,
            prepared=prepared,
            test_size=config.test_size,
            seed=config.seed,
        ),  # fmt: skip
    )


def make_plan(run: Run, prepared: PreparedData, split: HoldoutSplit) -> Plan:
    """Column roles, the run's checkpoint folder (a resume must match it) and search settings."""
    from tunelab.fidelity import (
        HOLDOUT_SHARE,
        boosters_first,
        families_for_size,
        is_large,
        scores_on_one_holdout,
    )
    from tunelab.paths import data_dir
    from tunelab.pipelines import infer_schema
    from tunelab.pipelines.schema import COMPACT_KEY
    from tunelab.retraining import prepare_retraining
    from tunelab.space import portfolio_configs, resolve_families
    from tunelab.splits import mark_split_columns, record_holdout
    from tunelab.weights import weighable_families

    config, splits = run.config, prepared.plan
    rows, columns = split.X_train.shape
    holdout = scores_on_one_holdout(rows, columns, config.time_budget)
    one_holdout = trials_on_one_holdout(splits.kind, holdout, rows)
    if one_holdout:
        run.log.info(
            "Trials are scored on one %d%% holdout, not inner CV: %d rows x %d columns is more "
            "than inner CV affords in this budget", HOLDOUT_SHARE * 100, rows, columns,
        )  # fmt: skip
    families = families_for_size(
        resolve_families(config.families, prepared.task),
        one_holdout or is_large(rows),
        requested=bool(config.families),
    )
    families = weighable_families(families, splits, run.log)
    schema = mark_split_columns(infer_schema(split.X_train, split.y_train, prepared.task), splits)
    if prepared.compact:
        schema = replace(schema, extra={**schema.extra, COMPACT_KEY: True})
    for column in schema.columns:
        if column.role == "dropped":
            run.log.warning("Column %r is not used: %s", column.name, column.reason)
    # Before the run's folder exists: a drift stop (--fail-on-drift) leaves nothing behind.
    retraining = run.runner.stage(
        "retraining-inputs", prepare_retraining, config=config, schema=schema,
        families=families, X_train=split.X_train, log=run.log,
    )  # fmt: skip
    run_id = config.run_id or new_run_id()
    run_dir = data_dir(config.data_dir) / "runs" / run_id
    manifest = {
        **config.resume_manifest(),
        "data_fingerprint": prepared.fingerprint,
        "task": prepared.task,
        "metric": prepared.metric,
        "families": families,
    }
    check_run_manifest(run_dir, manifest)
    run.log.info("Run %s: checkpoints in %s", run_id, run_dir)
    record_holdout(run_dir, split, splits)
    cores = resolve_n_jobs(config.n_jobs)
    outer_rows = trial_rows(rows, config.outer_folds, config.inner_folds, one_holdout)
    outer_cores = split_cores(cores, config.outer_folds, outer_rows)
    final_cores = split_cores(
        cores, trial_rows=trial_rows(rows, 1, config.inner_folds, one_holdout)
    )
    outer = SearchSettings(
        schema=schema, families=tuple(families), metric=prepared.metric,
        inner_folds=config.inner_folds, max_evals=config.trials_per_search, seed=config.seed,
        n_jobs=outer_cores.cores_per_search, trial_timeout=config.trial_timeout,
        ensemble_rounds=config.ensemble_size, plan=splits,
        concurrent_trials=outer_cores.trials_per_search, searches_at_once=outer_cores.searches,
        holdout=holdout,
    )  # fmt: skip
    return Plan(
        run_id=run_id,
        run_dir=run_dir,
        families=families,
        schema=schema,
        workers=outer_cores.searches,
        outer=outer,
        final=replace(
            outer,
            n_jobs=cores,
            concurrent_trials=final_cores.trials_per_search,
            searches_at_once=1,
        ),  # fmt: skip
        portfolio=retraining.starting_points
        + boosters_first(portfolio_configs(prepared.task, families)),
        retraining=retraining,
        refit_full=refits_on_all_rows(run, rows),
    )


def refits_on_all_rows(run: Run, rows: int) -> bool:
    """``--refit-full`` below :data:`tunelab.fidelity.LARGE_ROWS` training rows.

    Above, the model the test score describes ships: a quarter more rows adds little to a
    model fitted on over 100,000, and that refit was a million-row run's largest step in
    memory (3.5x the table above a small run's peak, against 2.9x for everything before it)
    and one of its longest fits.
    """
    from tunelab.fidelity import LARGE_ROWS, is_large

    if run.config.refit_full and is_large(rows):
        run.log.info(
            "Above %d training rows the model fitted on the training rows ships (the one the "
            "test score describes): no refit on all rows", LARGE_ROWS,
        )  # fmt: skip
        return False
    return run.config.refit_full


def estimate(run: Run, plan: Plan, split: HoldoutSplit) -> list[OuterFoldResult]:
    """Nested CV: each outer fold runs a full search on its part of the training rows."""
    from tunelab.nested_cv import evaluate_outer_fold, outer_splits

    folds = list(range(run.config.outer_folds))
    batches = [folds[i : i + plan.workers] for i in range(0, len(folds), plan.workers)]
    deadlines = run.clock.outer_deadlines(run.config.estimate_share, len(batches))
    splits = outer_splits(split.X_train, split.y_train, plan.outer, run.config.outer_folds)
    progress = run.runner.progress()
    calls = [
        dict(
            X=split.X_train,
            y=split.y_train,
            fold=fold,
            train_idx=splits[fold][0],
            val_idx=splits[fold][1],
            settings=plan.outer,
            run_dir=plan.run_dir,
            deadline=deadline,
            progress=progress,
            starting_points=plan.portfolio,
        )  # fmt: skip
        for batch, deadline in zip(batches, deadlines, strict=True)
        for fold in batch
    ]
    results = run.runner.map("outer-fold", evaluate_outer_fold, calls, plan.workers)
    for result in results:
        run.log.info(
            "Outer fold %d: %s scored %.4f on its held-out part (inner CV best %.4f)",
            result.fold, result.family, result.score, result.inner_best_score,
        )  # fmt: skip
    return cast("list[OuterFoldResult]", results)


def choose(
    run: Run, plan: Plan, split: HoldoutSplit, outer_results: list[OuterFoldResult]
) -> Choice:
    """The final search on all training rows, started from what the outer folds learned."""
    from tunelab.nested_cv import (
        best_outer_configuration,
        final_search,
        final_starting_points,
        no_time_for_a_trial,
    )

    deadline = run.clock.final_deadline(
        [t.refit_seconds for r in outer_results for t in r.trials if t.status == TrialStatus.OK],
        refits=2 if plan.refit_full else 1,
        after_seconds=run.after_registration,
    )
    if no_time_for_a_trial(deadline, outer_results):
        # Even one trial on all training rows would overrun: ship the configuration that
        # did best on the outer folds' held-out parts instead of overrunning the budget.
        run.log.warning("No time left for the final search; shipping the best outer-fold winner")
        search = best_outer_configuration(outer_results)
    else:
        search = run.runner.stage(
            "final-search", final_search, X=split.X_train, y=split.y_train,
            settings=plan.final, run_dir=plan.run_dir, deadline=deadline,
            progress=run.runner.progress(),
            starting_points=final_starting_points(outer_results, plan.portfolio),
        )  # fmt: skip
    shipped = trim_blend(run, search, outer_results, plan.refit_full)
    if len(shipped) > 1:
        run.log.info(
            "Shipping %s (its out-of-fold %s %.4f; best single pipeline %.4f)",
            describe(shipped), plan.final.metric, search.ensemble_score, search.best_score,
        )  # fmt: skip
    return Choice(search, shipped)


def trim_blend(
    run: Run, search: SearchResult, outer_results: list[OuterFoldResult], refit_full: bool
) -> list[Member]:
    """A blend refits its members one after another: keep what the time left allows; a single
    pipeline too slow to refit in time gives way to the best one that is not."""
    from tunelab.nested_cv import best_outer_fold

    shipped = search.shipped
    limit = run.clock.member_refit_allowance(
        refits=2 if refit_full else 1, after_seconds=run.after_registration
    )
    if limit is None:
        return shipped
    # Member numbers are trials of the search that chose the blend: the final search, or
    # (when it was skipped) the best outer fold's.
    chosen_by = search.trials or best_outer_fold(outer_results).trials
    if len(shipped) < 2:
        alone = affordable_single(shipped[0], chosen_by, limit)
        if alone != shipped[0]:
            # Numbered as the trial log numbers them (from 1).
            run.log.info(
                "Shipping trial %d (%s) instead of trial %d (%s): its refit would not end on time",
                alone.trial + 1, alone.family, shipped[0].trial + 1, shipped[0].family,
            )  # fmt: skip
        return [alone]
    trimmed = affordable(shipped, member_refit_seconds(chosen_by), limit_seconds=limit)
    if len(trimmed) < len(shipped):
        run.log.info("Kept %d of %d blend members to end on time", len(trimmed), len(shipped))
    return best_single_if_alone(trimmed, search)


def best_single_if_alone(members: list[Member], search: SearchResult) -> list[Member]:
    """A blend trimmed to one member ships the search's best single pipeline instead.

    The heaviest member of a blend need not be the best alone: on seattle_weather a blend
    weighted towards a random forest (its probabilities blend well) was trimmed to that
    forest, whose log loss alone was 0.590 against 0.559 for the XGBoost the search ranked
    first. One pipeline costs about as much to refit as another, so the best one ships.
    """
    if len(members) != 1 or not search.trials:
        return members
    best = replace(search, members=[]).shipped
    return best if best[0].trial >= 0 else members


def refit_and_score(run: Run, plan: Plan, split: HoldoutSplit, choice: Choice) -> Fitted:
    """Refit on the training rows, score once on the test rows, then (if time allows) refit
    on every row: the test score describes the configuration, the shipped model sees all."""
    refit_started = time.time()
    model, test_score = run.runner.stage(
        "refit-and-test", refit_and_test, members=choice.shipped, settings=plan.final,
        split=split,
    )  # fmt: skip
    refit_full = plan.refit_full and run.clock.affords_another_refit(time.time() - refit_started)
    if plan.refit_full and not refit_full:
        run.log.warning(
            "No time left to refit on all rows; shipping the model fitted on the training rows"
        )
    if refit_full:
        X_all, y_all = all_rows(split)
        model = run.runner.stage(
            "refit-on-all-rows", refit_on_all_rows, members=choice.shipped,
            settings=plan.final, X=X_all, y=y_all,
        )  # fmt: skip
    return Fitted(model, test_score, refit_full)


def all_rows(split: HoldoutSplit) -> tuple[pd.DataFrame, pd.Series]:
    """Training and test rows in one frame; the split's parts become slices of it (views,
    the same rows in the same order), so the run holds its rows once, not twice."""
    X_all = pd.concat([split.X_train, split.X_test])
    y_all = pd.concat([split.y_train, split.y_test])
    n = len(split.X_train)
    split.X_train, split.X_test = X_all.iloc[:n], X_all.iloc[n:]
    split.y_train, split.y_test = y_all.iloc[:n], y_all.iloc[n:]
    return X_all, y_all


def judge(
    run: Run, plan: Plan, prepared: PreparedData, split: HoldoutSplit, fitted: Fitted
) -> dict[str, Any] | None:
    """With ``--champion``: the current champion and this run's model on the same test rows."""
    from tunelab.retraining import judge_champion

    if not run.config.champion:
        return None
    return cast(
        "dict[str, Any] | None",
        run.runner.stage(
            "champion-vs-challenger",
            judge_champion,
            config=run.config,
            inputs=plan.retraining,
            task=prepared.task,
            metric=prepared.metric,
            X_test=split.X_test,
            y_test=split.y_test,
            challenger_score=fitted.test_score,
            log=run.log,
        ),  # fmt: skip
    )


def register(
    run: Run,
    card: ModelCard,
    fitted: Fitted,
    records: list[TrialRecord],
    split: HoldoutSplit,
    champion: dict[str, Any] | None,
) -> RunOutcome:
    """The model, its card and its leaderboard become the next version in the registry;
    a champion decision then moves (or keeps) its alias."""
    from tunelab.retraining import apply_decision

    config = run.config
    entry = run.runner.stage(
        "register-model", register_model, data_dir=config.data_dir,
        name=config.name or default_model_name(config.data, config.target),
        model=fitted.model, metadata=card.to_dict(), leaderboard=leaderboard_frame(records),
    )  # fmt: skip
    if champion:
        run.runner.stage(
            "move-alias", apply_decision, data_dir=config.data_dir, name=entry.name,
            version=entry.version, decision=champion, log=run.log,
        )  # fmt: skip
    result = TrainingResult(
        name=entry.name, version=entry.version, location=entry.location, run_id=card.run_id,
        task=card.task, metric=card.metric, outer_cv=card.metrics.outer_cv,
        test_score=fitted.test_score, best_family=card.best_family,
        best_config=card.best["config"], refit_full=fitted.refit_full,
        elapsed_seconds=run.clock.elapsed(), champion=champion,
    )  # fmt: skip
    return RunOutcome(result, card, records, fitted.model, split.X_test, split.y_test)


def publish(run: Run, outcome: RunOutcome) -> None:
    """The report, the orchestrator's artifacts and MLflow: after registration, so none of
    them can lose the registered model."""
    report_html = write_run_report(run, outcome) if run.config.report else None
    run.runner.publish(outcome)
    if run.tracking_uri:
        run.runner.stage(
            "track-mlflow", track_in_mlflow, tracking_uri=run.tracking_uri, outcome=outcome,
            report_html=report_html, log=run.log,
        )  # fmt: skip
    result, outer = outcome.result, outcome.result.outer_cv
    run.log.info(
        "Done in %.0fs: nested CV %s %.4f ± %.4f, test %.4f, winner %s -> %s v%d",
        time.time() - run.clock.started, result.metric, outer["mean"], outer["std"],
        result.test_score, result.best_family, result.name, result.version,
    )  # fmt: skip


def write_run_report(run: Run, outcome: RunOutcome) -> str:
    from tunelab.report import ReportInputs

    result = outcome.result
    inputs = ReportInputs(
        card=outcome.card.to_dict(),
        trials=cast(Any, outcome.trials),  # duck-typed: the report does not import the search
        model=outcome.model,
        X_test=outcome.X_test,
        y_test=outcome.y_test,
        name=result.name,
        version=result.version,
    )
    figures, report_html = run.runner.stage(
        "write-report", write_report, data_dir=run.config.data_dir, name=result.name,
        version=result.version, inputs=inputs,
    )  # fmt: skip
    outcome.report = (inputs, figures)
    return cast(str, report_html)

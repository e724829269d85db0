"""Hyperopt TPE over the conditional pipeline space, several checkpointed trials at a time.

Trials are proposed one by one (:mod:`tunelab.proposals`: hyperopt's ``tpe.suggest`` with a
constant liar for trials in flight, exactly ``fmin``'s proposals when one runs at a time) and
run on the search's pool (:mod:`tunelab.trial_pool`: inline, threads or Dask). After every
finished trial the history is written atomically to disk, so a killed run loses at most the
trials in flight, and each trial's random stream is seeded from ``(seed, search label, trial
number)`` so a resumed search proposes exactly what an uninterrupted one would have.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from hyperopt import STATUS_FAIL, STATUS_OK, Trials

from tunelab import checkpoint as checkpoint_io
from tunelab.compact import return_freed_memory_after_large_fit
from tunelab.cores import booster_threads, threads_per_trial
from tunelab.ensemble import (
    Member,
    OutOfFold,
    class_probabilities,
    fold_predictions,
    member_refit_seconds,
    score_stored,
    select_members,
)
from tunelab.errors import SearchFailedError
from tunelab.fidelity import is_large
from tunelab.interrupt import check_stop
from tunelab.models.kinds import is_classification
from tunelab.pipelines import DataSchema, build_pipeline, normalise_config
from tunelab.proposals import Proposer, finished_doc
from tunelab.splits import SplitPlan, inner_fold_splits
from tunelab.splits import make_cv as make_cv  # the random splitter, moved to tunelab.splits
from tunelab.trial_pool import open_pool
from tunelab.trials import TrialRecord, TrialStatus
from tunelab.weights import fit_weighted, row_weights, run_scorer

#: How a trial stopped by the run's deadline is recorded (status ``cut``).
BUDGET_EXHAUSTED = "time budget exhausted"
#: A family whose last this-many evaluated trials all failed is not tried again in this search.
MAX_CONSECUTIVE_FAMILY_FAILURES = 3
#: Successive halving over inner folds: a trial goes on past its first fold only if that
#: fold's score is in the best 1/ETA of the first-fold scores so far (every trial's first
#: fold is the same split, so these scores compare like with like) ...
PROMOTION_ETA = 3
#: ... once this many trials have a first-fold score; before that every trial is promoted.
PROMOTION_MIN_TRIALS = 4


@dataclass(frozen=True)
class SearchSettings:
    """Everything that defines a search except the rows it runs on."""

    schema: DataSchema
    families: tuple[str, ...]
    metric: str
    inner_folds: int
    max_evals: int
    seed: int
    n_jobs: int = 1
    trial_timeout: float | None = None
    #: Stop a trial between inner folds once it is clearly worse than the best so far.
    prune: bool = True
    #: Rounds of greedy ensemble selection over the best trials' out-of-fold predictions;
    #: below 2, the search ships its single best pipeline.
    ensemble_rounds: int = 0
    #: Group, time and weight columns: how the inner folds split and every fit weighs rows.
    plan: SplitPlan = field(default_factory=SplitPlan)
    #: Trials kept running at once on this search's ``n_jobs`` cores (see tunelab.cores);
    #: 1 runs them one after another, each fit on all ``n_jobs`` cores.
    concurrent_trials: int = 1
    #: Searches sharing the cluster at once (outer folds), for a search's share of Dask.
    searches_at_once: int = 1
    #: Score each trial on one holdout instead of inner CV (decided per run by
    #: :func:`tunelab.fidelity.scores_on_one_holdout`; a table above LARGE_ROWS always is).
    holdout: bool = False

    def one_holdout(self, rows: int) -> bool:
        """Are this search's trials on ``rows`` rows scored on one holdout?"""
        return trials_on_one_holdout(self.plan.kind, self.holdout, rows)

    @property
    def trial_n_jobs(self) -> int:
        """Threads each trial's fit uses (refits after the search use all ``n_jobs``)."""
        return threads_per_trial(self.n_jobs, self.concurrent_trials)


def trials_on_one_holdout(split_kind: str, holdout: bool, rows: int) -> bool:
    """The one place that decides whether trials on ``rows`` rows are scored on one holdout:
    when ``holdout`` (the budget's rule, :func:`tunelab.fidelity.scores_on_one_holdout`) says
    so or the table is large, and only for random splits: grouped and time-ordered runs keep
    their folds, which are what keep a group or the future out of the rows a trial learns."""
    return split_kind == "random" and (holdout or is_large(rows))


@dataclass
class SearchResult:
    label: str
    best_config: dict[str, Any]
    best_score: float
    trials: list[TrialRecord] = field(default_factory=list)
    #: The blend to ship (see :mod:`tunelab.ensemble`); empty means ``best_config`` alone.
    members: list[Member] = field(default_factory=list)
    #: The blend's score on the out-of-fold predictions it was chosen on (optimistic).
    ensemble_score: float | None = None

    @property
    def n_evaluated(self) -> int:
        return sum(t.status != TrialStatus.SKIPPED for t in self.trials)

    @property
    def shipped(self) -> list[Member]:
        """What is refitted and shipped: the blend, or the best configuration alone."""
        if self.members:
            return self.members
        best = best_record(self.trials)
        number = best.number if best is not None else -1
        return [Member(self.best_config, 1.0, number, self.best_config["model"]["family"])]


ProgressCallback = Callable[[TrialRecord, "TrialRecord | None", int], None]


class TrialCut(Exception):
    """A trial stopped between folds because it ran past its own or the run's time limit."""


def record_from_trial(label: str, trial: dict[str, Any]) -> TrialRecord:
    result = trial["result"]
    return TrialRecord(
        search=label,
        number=int(trial["tid"]),
        family=result.get("family", "?"),
        status=TrialStatus(
            result.get("outcome")
            or (TrialStatus.OK if result.get("status") == STATUS_OK else TrialStatus.FAILED)
        ),
        score=result.get("score"),
        score_std=result.get("score_std"),
        fit_seconds=float(result.get("fit_seconds", 0.0)),
        config=result.get("config", {}),
        error=result.get("error", ""),
        fold_scores=[float(s) for s in result.get("fold_scores", [])],
        started_at=str(result.get("started_at", "")),
        finished_at=str(result.get("finished_at", "")),
        row_share=float(result.get("row_share", 1.0)),
    )


def dropped_families(records: list[TrialRecord]) -> set[str]:
    """Derived from the history (not kept as state) so a resumed search drops the same families."""
    recent: dict[str, list[str]] = {}
    for record in records:
        if record.status in (TrialStatus.OK, TrialStatus.PRUNED, TrialStatus.FAILED):
            recent.setdefault(record.family, []).append(record.status)
    return {
        family
        for family, statuses in recent.items()
        if len(statuses) >= MAX_CONSECUTIVE_FAMILY_FAILURES
        and all(s == TrialStatus.FAILED for s in statuses[-MAX_CONSECUTIVE_FAMILY_FAILURES:])
    }


def load_trials(checkpoint: Path | None) -> Trials:
    if checkpoint is not None and checkpoint.exists():
        return checkpoint_io.load_trials(checkpoint)
    return Trials()


def best_record(records: list[TrialRecord]) -> TrialRecord | None:
    ok = [r for r in records if r.status == TrialStatus.OK]
    # Ties go to the earlier trial, so the winner does not depend on float noise in ordering.
    return max(ok, key=lambda r: (r.score, -r.number)) if ok else None


def affordable_single(best: Member, trials: Sequence[TrialRecord], limit_seconds: float) -> Member:
    """The pipeline to ship alone: ``best``, unless its refit would not end on time; then
    the best finished trial (as :func:`best_record` ranks them) whose refit fits
    ``limit_seconds``, or ``best`` when none does.

    Why: on a large table a trial is one holdout fit, and the final search may end on a
    configuration slower than any the reserve was sized from (an XGBoost trial of 2.9 s took
    9.7 s to refit, and the run ended 3.9 s late). The second-best pipeline shipped on time
    is what the user asked for; the best shipped late is not.
    """
    own = next((t for t in trials if t.number == best.trial), None)
    if own is None or own.refit_seconds <= limit_seconds:
        return best
    pick = best_record([t for t in trials if t.refit_seconds <= limit_seconds])
    return best if pick is None else Member(pick.config, 1.0, pick.number, pick.family)


def row_share(splits: list[tuple[np.ndarray, np.ndarray]], rows: int) -> float:
    """The share of the rows outside its holdout that a one-holdout trial trains on."""
    train, validation = splits[0]
    return len(train) / max(1, rows - len(validation))


def score_fields(scores: list[float]) -> dict[str, float]:
    mean = float(np.mean(scores))
    return {"loss": -mean, "score": mean, "score_std": float(np.std(scores))}


def startup_trials(settings: SearchSettings, deadline: float | None) -> int:
    """Random trials before TPE starts to model the history.

    A third of ``max_evals`` (at most hyperopt's default 20) when the count is what ends the
    search. Under a deadline ``max_evals`` says little about how many trials will run, and 20
    random ones can be all a short budget allows, so then about one per family is enough.
    """
    by_count = min(20, max(3, settings.max_evals // 3))
    if deadline is None:
        return by_count
    return min(by_count, max(3, len(settings.families)))


def family_fold_seconds(records: list[TrialRecord], family: str) -> float:
    """The slowest single-fold fit of ``family`` so far in this search (0 if none yet)."""
    ok = TrialStatus.OK
    times = [r.seconds_per_fold for r in records if r.family == family and r.status == ok]
    return max(times, default=0.0)


def is_promoted(first_fold_score: float, records: list[TrialRecord]) -> bool:
    """Does a trial earn its remaining inner folds (successive halving, one rung per fold)?

    Cheap evaluations first: a trial that is not among the best 1/:data:`PROMOTION_ETA` on the
    first fold stops there, so most of a search's time goes to configurations that look
    promising, and a budget buys about twice as many trials as full inner CV for each.
    """
    earlier = [
        r.fold_scores[0] for r in records if r.fold_scores and math.isfinite(r.fold_scores[0])
    ]
    if len(earlier) < PROMOTION_MIN_TRIALS or not math.isfinite(first_fold_score):
        return True
    return first_fold_score >= float(np.quantile(earlier, 1 - 1 / PROMOTION_ETA))


def is_hopeless(scores: list[float], best: TrialRecord | None) -> bool:
    """After some folds, is this trial clearly worse than the best one so far?

    "Clearly" means below the best mean by more than three of its fold standard deviations
    (and at least 2 % of its magnitude), so noise alone rarely prunes a competitive trial.
    """
    if best is None or not all(math.isfinite(s) for s in scores):
        return False
    best_score = float(best.score or 0.0)
    margin = max(3 * (best.score_std or 0.0), 0.02 * abs(best_score), 1e-9)
    return float(np.mean(scores)) < best_score - margin


class _Objective:
    """Scores one configuration by inner cross-validation; never raises for a bad trial."""

    def __init__(
        self,
        X: pd.DataFrame,
        y: pd.Series,
        settings: SearchSettings,
        deadline: float | None,
        history: Callable[[], list[TrialRecord]],
    ):
        self.X, self.y, self.settings = X, y, settings
        self.deadline, self.history = deadline, history
        self.splits = inner_fold_splits(X, y, settings)
        #: The share of a fold's training rows a trial fits on (a large table's trials see a
        #: subset of them: :func:`tunelab.fidelity.trial_rows_of`).
        self.row_share = row_share(self.splits, len(X)) if settings.one_holdout(len(X)) else 1.0
        self.weights = row_weights(X, settings.plan.weight_column)
        #: Rows some fold validates on (forward-chaining folds never validate the earliest).
        self.oof_rows = np.unique(np.concatenate([val for _, val in self.splits]))
        self.oof_weights = None if self.weights is None else self.weights[self.oof_rows]
        classification = is_classification(settings.schema.task)
        self.classes: np.ndarray | None = np.unique(y) if classification else None
        self.scorer = run_scorer(settings.metric, self.classes)
        #: Out-of-fold predictions of the last trial, when it was scored on every fold.
        self.last_oof: np.ndarray | None = None

    def __call__(self, sampled: dict[str, Any]) -> dict[str, Any]:
        result, self.last_oof = self.evaluate(sampled, self.history())
        return result

    def evaluate(
        self,
        sampled: dict[str, Any],
        records: list[TrialRecord],
        search_has_best: Callable[[], bool] | bool = False,
    ) -> tuple[dict[str, Any], np.ndarray | None]:
        """The trial's result (with when it started and finished) and its out-of-fold
        predictions (None unless scored on every fold); ``records`` is the history it sees.
        ``search_has_best``: has the search a finished trial now (a trial that saw none in
        its history may still be cut by the budget then, so every search still yields a
        model). Safe to call from several threads at once: it keeps no state between trials."""
        started = utc_now()
        live = search_has_best if callable(search_has_best) else lambda: bool(search_has_best)
        result, oof = self._evaluate(sampled, records, live)
        return_freed_memory_after_large_fit(self.settings.schema)
        timing = {"started_at": started, "finished_at": utc_now(), "row_share": self.row_share}
        return {**result, **timing}, oof

    def _evaluate(
        self,
        sampled: dict[str, Any],
        records: list[TrialRecord],
        search_has_best: Callable[[], bool] = lambda: False,
    ) -> tuple[dict[str, Any], np.ndarray | None]:
        config = normalise_config(sampled, self.settings.schema.task)
        family = config["model"]["family"]
        base = {"family": family, "config": config, "loss": None}
        if family in dropped_families(records):
            return {
                **base,
                "status": STATUS_FAIL,
                "outcome": TrialStatus.SKIPPED.value,
                "error": "family dropped after repeated failures",
                "fit_seconds": 0.0,
            }, None
        best = best_record(records)
        start = time.perf_counter()
        scores: list[float] = []
        base["fold_scores"] = scores
        oof = None
        oof_parts: list[tuple[np.ndarray, np.ndarray]] = []
        # A fold fit cannot be interrupted, so near the deadline a fold only starts if it is
        # expected to end in time: first from this family's earlier folds, then from this
        # trial's own.
        fold_seconds = family_fold_seconds(records, family)
        try:
            for fold, (train_idx, val_idx) in enumerate(self.splits):
                check_stop()
                if fold:
                    fold_seconds = (time.perf_counter() - start) / fold
                may_cut = best is not None or search_has_best()
                self._check_limits(start, fold_seconds, may_cut=may_cut)
                score, predictions = self._score_fold(config, train_idx, val_idx)
                scores.append(score)
                if predictions is not None:
                    oof_parts.append((val_idx, predictions))
                if fold + 1 == len(self.splits):
                    break
                if self.settings.prune and (
                    (fold == 0 and not is_promoted(score, records)) or is_hopeless(scores, best)
                ):
                    return {
                        **base,
                        **score_fields(scores),
                        "status": STATUS_OK,  # TPE still learns that this region is poor
                        "outcome": TrialStatus.PRUNED.value,
                        "error": f"pruned after {len(scores)} of {len(self.splits)} folds",
                        "fit_seconds": time.perf_counter() - start,
                    }, None
            if not all(math.isfinite(s) for s in scores):
                raise ValueError(f"non-finite fold scores {scores}")
            oof = self._assemble(oof_parts)
        except TrialCut as exc:
            return {
                **base,
                "status": STATUS_FAIL,
                "outcome": TrialStatus.CUT.value,
                "error": str(exc),
                "fit_seconds": time.perf_counter() - start,
            }, None
        except Exception as exc:  # a failing trial is data, not a crash
            return {
                **base,
                "status": STATUS_FAIL,
                "outcome": TrialStatus.FAILED.value,
                "error": f"{type(exc).__name__}: {exc}"[:500],
                "fit_seconds": time.perf_counter() - start,
            }, None
        return {
            **base,
            **score_fields(scores),
            "status": STATUS_OK,
            "fit_seconds": time.perf_counter() - start,
        }, oof

    def _score_fold(
        self, config: dict[str, Any], train_idx: np.ndarray, val_idx: np.ndarray
    ) -> tuple[float, np.ndarray | None]:
        """The fold's score and its predictions (kept for ensembles), from one predict call.

        Probabilities have a column for every class of the search, also when a class is
        missing from the fold's training part (a group or time fold can lack a rare class).
        """
        s = self.settings
        estimator = without_booster_refit(
            build_pipeline(config, s.schema, seed=s.seed, n_jobs=s.trial_n_jobs)
        )
        estimator = with_booster_threads(estimator, len(train_idx), s.trial_n_jobs)
        X_val, y_val = self.X.iloc[val_idx], self.y.iloc[val_idx]
        w_train, w_val = (None, None) if self.weights is None else (
            self.weights[train_idx], self.weights[val_idx]
        )  # fmt: skip
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit_weighted(estimator, self.X.iloc[train_idx], self.y.iloc[train_idx], w_train)
            if self.classes is not None and not np.array_equal(estimator.classes_, self.classes):
                predictions = class_probabilities(estimator, X_val, self.classes)
            else:
                predictions = fold_predictions(estimator, X_val, self.classes is not None)
        score = score_stored(self.scorer, predictions, y_val, self.classes, w_val)
        return score, predictions

    def _assemble(self, parts: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray | None:
        if self.settings.ensemble_rounds < 2 or len(parts) != len(self.splits):
            return None
        first = parts[0][1]
        oof = np.zeros((len(self.y), *first.shape[1:]), dtype=float)
        for rows, predictions in parts:
            oof[rows] = predictions
        return oof[self.oof_rows]

    def _check_limits(self, start: float, fold_seconds: float, may_cut: bool) -> None:
        elapsed = time.perf_counter() - start
        timeout = self.settings.trial_timeout
        if timeout is not None and elapsed > timeout:
            raise TrialCut(f"trial exceeded its {timeout:g}s limit after {elapsed:.1f}s")
        if may_cut and self.deadline is not None and time.time() + fold_seconds > self.deadline:
            raise TrialCut(BUDGET_EXHAUSTED)


def without_booster_refit(estimator: Any) -> Any:
    """A trial's boosters keep the model that early stopping chose instead of refitting.

    The refit on all of a booster's rows (with the number of trees found) makes the shipped
    model better but doubles every booster fit; ranking configurations does not need it, so
    trials run about twice as many booster fits per second. Refits after the search (outer
    folds, test score, shipped model) keep it.
    """
    quick = {f"{step}refit": False for step in _booster_steps(estimator)}
    return estimator.set_params(**quick) if quick else estimator


def with_booster_threads(estimator: Any, rows: int, cores: int) -> Any:
    """The estimator's boosters fit on the threads :func:`tunelab.cores.booster_threads`
    gives a fit on ``rows`` rows with ``cores`` cores; other families keep theirs (forests
    and k-NN divide work between threads coarsely and gain from every core)."""
    threads = booster_threads(cores, rows)
    params = {f"{step}n_jobs": threads for step in _booster_steps(estimator)}
    return estimator.set_params(**params) if params else estimator


def _booster_steps(estimator: Any) -> list[str]:
    """Parameter prefixes (``model__``, ``m0__model__``, ...) of the estimator's boosters:
    the steps with a ``refit`` switch, which only tunelab's early-stopping boosters have."""
    return [
        name.removesuffix("refit")
        for name in estimator.get_params()
        if name.endswith("model__refit")
    ]


def usable_starting_points(
    configs: Sequence[dict[str, Any]], settings: SearchSettings
) -> list[dict[str, Any]]:
    """The given configurations of searched families, normalised, each once, in order."""
    usable, seen = [], set()
    for config in configs:
        if config["model"]["family"] not in settings.families:
            continue
        normalised = normalise_config(config, settings.schema.task)
        key = repr(normalised)
        if key not in seen:
            seen.add(key)
            usable.append(normalised)
    return usable


#: Proposals a search may have out per trial it runs at once: trial k is proposed once trial
#: k - window has finished, so a slow trial holds up proposals only after this many others.
PROPOSALS_PER_SLOT = 2


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat()


def proposal_window(width: int) -> int:
    """Trial k learns from trials up to k - window (1: every trial before it, sequential)."""
    return 1 if width <= 1 else PROPOSALS_PER_SLOT * width


#: Objectives built on a Dask worker, by the shared table they score on (a few searches).
_WORKER_OBJECTIVES: dict[tuple[int, str], _Objective] = {}


def evaluate_on_worker(
    data: tuple[pd.DataFrame, pd.Series],
    settings: SearchSettings,
    deadline: float | None,
    label: str,
    sampled: dict[str, Any],
    records: list[TrialRecord],
    search_has_best: bool,
) -> tuple[dict[str, Any], np.ndarray | None]:
    """One trial as a Dask task: ``data`` is the search's table, sent to this worker once."""
    key = (id(data[0]), label)
    if key not in _WORKER_OBJECTIVES:
        if len(_WORKER_OBJECTIVES) >= 8:
            _WORKER_OBJECTIVES.clear()
        _WORKER_OBJECTIVES[key] = _Objective(*data, settings, deadline, list)
    return _WORKER_OBJECTIVES[key].evaluate(sampled, records, search_has_best)


class _TrialLoop:
    """Proposes, runs and records one search's trials, up to ``pool.width`` at once.

    Trial k is proposed and started once trials 0 .. k-window have finished; it sees those
    results (TPE and the promotion, pruning and family-dropping rules alike) and nothing
    newer, so its configuration and score do not depend on which trial finished first.
    Finished trials are checkpointed as they finish, in any order.
    """

    def __init__(self, X, y, settings, label, deadline, pool: Any, proposer: Proposer):
        self.settings, self.label, self.deadline = settings, label, deadline
        self.pool, self.proposer = pool, proposer
        self.window = proposal_window(pool.width)
        self.objective = _Objective(X, y, settings, deadline, lambda: self.committed_records)
        self.oof = OutOfFold(self.objective.classes)
        self.large = settings.one_holdout(len(X))
        self.shared = pool.share((X, y)) if pool.remote else None
        self.remote_settings = replace(settings, n_jobs=1, concurrent_trials=1)
        self.committed = Trials()  # trials 0 .. n-1, every one finished
        self.committed_records: list[TrialRecord] = []
        self.finished: dict[int, dict[str, Any]] = {}  # every finished trial's document
        self.records: dict[int, TrialRecord] = {}  # ... and its record
        self.any_ok = False
        self.proposed: dict[int, dict[str, Any]] = {}
        self.in_flight: dict[Any, int] = {}
        self.next_k = 0
        self.stopped = False

    def resume(self, stored: Trials) -> None:
        for doc in stored.trials:
            self.finished[doc["tid"]] = self.proposed[doc["tid"]] = doc
            self.records[doc["tid"]] = record_from_trial(self.label, doc)
        self.any_ok = any(r.status == TrialStatus.OK for r in self.records.values())
        self._commit()

    def past(self, deadline: float, best: TrialRecord) -> bool:
        """Is it too late to start a trial? On a large table the search also keeps time for
        the refit of its winner after it (a trial is one holdout fit, the refit about as
        long, or longer by the rows a trial did not see); on a small one refits take a
        fraction of a trial."""
        reserve = 1.2 * best.refit_seconds if self.large else 0.0
        return time.time() + reserve >= deadline

    def has_best(self) -> bool:
        """Has a trial of this search finished with a full score (read from trial threads)?"""
        return self.any_ok

    def all_records(self) -> list[TrialRecord]:
        return [self.records[k] for k in sorted(self.records)]

    def run(self, checkpoint: Path | None, progress: ProgressCallback | None) -> None:
        try:
            while True:
                self._launch()
                if not self.in_flight:
                    break
                done = self.pool.first_done(list(self.in_flight))
                for future in sorted(done, key=lambda f: self.in_flight[f]):
                    self._finish(future, checkpoint, progress)
        except BaseException:
            self._keep_what_finishes(checkpoint)
            raise

    def _keep_what_finishes(self, checkpoint: Path | None) -> None:
        """On an interrupt, trials queued are dropped and those running here stop at their
        next fold; any that still finish are checkpointed, so a resume loses none of them.
        Trials on a cluster do not see this process's stop signal: they are cancelled."""
        self._drop_queued()
        if self.pool.remote:
            for future in self.in_flight:
                future.cancel()
            return
        while self.in_flight:
            for future in self.pool.first_done(list(self.in_flight)):
                if future.exception() is None:
                    self._finish(future, checkpoint, None)
                else:
                    del self.in_flight[future]

    def _launch(self) -> None:
        while not self.stopped and self.next_k - len(self.committed_records) < self.window:
            k = self.next_k
            if k in self.finished:  # read back from the checkpoint
                self.next_k += 1
                continue
            decision = self._may_propose(k)
            if decision is None:
                return  # decided once more results are in
            if not decision:
                self.stopped = True
                self._drop_queued()
                return
            check_stop()
            self._submit(k)
            self.next_k += 1

    def _may_propose(self, k: int) -> bool | None:
        """Whether trial k runs (None: not decidable until every earlier trial finished)."""
        s, everything = self.settings, self.all_records()
        best = best_record(everything)
        deadline = self.deadline
        if best is not None and deadline is not None and self.past(deadline, best):
            return False
        if any(r.error == BUDGET_EXHAUSTED for r in everything):
            return False  # the budget cut a trial: the next would not fit either
        seen = self.committed_records[: max(0, k - self.window + 1)]
        if k >= 3 * s.max_evals or set(s.families) <= dropped_families(seen):
            return False  # proposals keep landing on dropped families
        evaluated = sum(r.status != TrialStatus.SKIPPED for r in seen)
        if evaluated + (k - len(seen)) < s.max_evals:
            return True
        if len(self.committed_records) < k:
            return None
        return sum(r.status != TrialStatus.SKIPPED for r in self.committed_records) < s.max_evals

    def _submit(self, k: int) -> None:
        lag = max(0, k - self.window + 1)
        known = (
            self.committed if lag == len(self.committed_records) else self.committed.trials[:lag]
        )
        pending = [self.proposed[j] for j in range(lag, k)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            doc = self.proposed[k] = self.proposer.propose(k, known, pending)
        sampled, seen = self.proposer.sampled(doc), self.committed_records[:lag]
        if self.shared is not None:
            args = (self.shared, self.remote_settings, self.deadline, self.label, sampled, seen)
            future = self.pool.submit(evaluate_on_worker, *args, self.has_best())
        else:
            future = self.pool.submit(self.objective.evaluate, sampled, seen, self.has_best)
        self.in_flight[future] = k

    def _finish(
        self, future: Any, checkpoint: Path | None, progress: ProgressCallback | None
    ) -> None:
        k = self.in_flight.pop(future)
        result, oof = future.result()
        doc = finished_doc(
            self.proposed[k],
            result,
            datetime.fromisoformat(result["started_at"]),
            datetime.fromisoformat(result["finished_at"]),
        )
        self.finished[k] = doc
        record = self.records[k] = record_from_trial(self.label, doc)
        self.any_ok = self.any_ok or record.status == TrialStatus.OK
        if oof is not None and record.status == TrialStatus.OK:
            self.oof.add(k, float(record.score or 0.0), oof, record.family)
        self._commit()
        if checkpoint is not None:
            checkpoint_io.save_trials(checkpoint, [self.finished[t] for t in sorted(self.finished)])
        if progress is not None:
            progress(record, best_record(self.all_records()), self.settings.max_evals)

    def _commit(self) -> None:
        """Trials 0, 1, ... join what later proposals learn from, in order, once finished."""
        while (k := len(self.committed_records)) in self.finished:
            self.committed.insert_trial_docs([self.finished[k]])
            self.committed.refresh()
            self.committed_records.append(self.records[k])

    def _drop_queued(self) -> None:
        """Trials proposed but not started when the search stops are not run at all."""
        for future in [f for f in self.in_flight if f.cancel()]:
            del self.in_flight[future]


def run_search(
    X: pd.DataFrame,
    y: pd.Series,
    settings: SearchSettings,
    *,
    label: str,
    checkpoint: Path | None = None,
    deadline: float | None = None,
    progress: ProgressCallback | None = None,
    starting_points: Sequence[dict[str, Any]] = (),
) -> SearchResult:
    """TPE search; resumes from ``checkpoint`` when it exists. ``deadline`` is a ``time.time()``.

    ``starting_points`` (configurations known to do well: library defaults, a portfolio, other
    searches' winners) are evaluated first, in order, and recorded so TPE learns from them.
    At least one trial always finishes, even past the deadline, so every search yields a model.
    """
    proposer = Proposer(
        settings.schema.task,
        settings.families,
        settings.seed,
        label,
        startup_trials(settings, deadline),
        usable_starting_points(starting_points, settings),
    )
    one_core = settings.n_jobs == 1
    with open_pool(settings.concurrent_trials, settings.searches_at_once, one_core) as pool:
        loop = _TrialLoop(X, y, settings, label, deadline, pool, proposer)
        loop.resume(load_trials(checkpoint))
        loop.run(checkpoint, progress)
    records, objective, oof = loop.all_records(), loop.objective, loop.oof
    best = best_record(records)
    if best is None:
        errors = "; ".join(sorted({r.error for r in records if r.error})[:3])
        raise SearchFailedError(
            f"Search {label!r}: all {len(records)} trials failed. First errors: {errors}"
        )
    members, ensemble_score = select_members(
        oof,
        y.iloc[objective.oof_rows],
        objective.scorer,
        configs={r.number: r.config for r in records},
        # A blend refits every member: on a large table each refit is a slow fit.
        rounds=0 if settings.one_holdout(len(X)) else settings.ensemble_rounds,
        # Only under a deadline may measured times shape the blend (same seed, same blend).
        fit_seconds=None if deadline is None else member_refit_seconds(records),
        sample_weight=objective.oof_weights,
    )
    return SearchResult(
        label=label,
        best_config=best.config,
        best_score=float(best.score or 0.0),
        trials=records,
        members=members if len(members) > 1 else [],
        ensemble_score=ensemble_score if len(members) > 1 else None,
    )

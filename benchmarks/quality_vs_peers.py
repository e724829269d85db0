"""tunelab vs FLAML vs hyperopt-sklearn at an equal wall-clock budget on offline datasets.

Every system sees the same training rows (one stratified hold-out split per dataset and seed),
is given the same budget in seconds and the same number of cores, and its final model is scored
once on the same held-out rows with the same scikit-learn metric function.

* tunelab: ``run_search`` (TPE, 3-fold inner CV, all families) with ``deadline = start + budget``,
  then ``fit_and_score`` refits the winner on all training rows. No Prefect, no nested CV: the
  outer folds only estimate performance and would eat budget the peers spend on search.
* FLAML: ``AutoML.fit(time_budget=budget)`` on the raw table (it encodes text and dates itself).
* hyperopt-sklearn: ``HyperoptEstimator`` (any_classifier / any_regressor, any_preprocessing,
  TPE, 3-fold shuffled CV) driven one trial at a time through ``fit_iter`` until the budget is
  spent, each trial's timeout set to the time left; then the best model is refitted. It needs a
  numeric matrix, so it gets tunelab's own column preprocessing fitted on the training rows.

Metrics (``--metric common``, the default) are ones all three optimise natively: accuracy for
classification and R^2 for regression. ``--metric native`` uses tunelab's defaults (ROC AUC for
binary, negative log loss for multiclass, R^2); hyperopt-sklearn can then only optimise accuracy
and is scored with ``predict_proba`` where its model has one.

Wall time is measured per system from the start of its search until its model is ready to
predict, so overruns of the budget are visible in the ``wall s`` column.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import time
import traceback
import warnings
from dataclasses import dataclass, field
from typing import Any

import _common
import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, log_loss, r2_score, roc_auc_score
from sklearn.preprocessing import LabelEncoder

from pipelines import infer_schema
from pipelines.preprocessing import make_preprocessor
from tunelab.holdout import split_holdout
from tunelab.nested_cv import fit_and_score
from tunelab.prepare import prepare_data
from tunelab.search import SearchSettings, run_search
from tunelab.space import resolve_families

SYSTEMS = ("tunelab", "flaml", "hpsklearn")
TIE = 0.005
FLAML_METRIC = {
    "accuracy": "accuracy",
    "r2": "r2",
    "roc_auc": "roc_auc",
    "neg_log_loss": "log_loss",
}


@dataclass
class Split:
    dataset: str
    task: str
    metric: str
    X_train: pd.DataFrame
    X_test: pd.DataFrame
    y_train: pd.Series
    y_test: pd.Series
    seed: int


@dataclass
class Outcome:
    system: str
    score: float | None = None
    wall: float | None = None
    trials: int | None = None
    best: str = ""
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def pick_metric(task: str, mode: str) -> str:
    if task == "regression":
        return "r2"
    if mode == "common":
        return "accuracy"
    return "roc_auc" if task == "binary" else "neg_log_loss"


def test_score(metric: str, y_true, predict, predict_proba, classes) -> float:
    """One scoring function for all systems, so nobody's scorer conventions differ."""
    y_true = np.asarray(y_true)
    if metric == "accuracy":
        return float(accuracy_score(y_true, np.asarray(predict())))
    if metric == "r2":
        return float(r2_score(y_true, np.asarray(predict(), dtype=float)))
    proba = np.asarray(predict_proba(), dtype=float)
    classes = list(classes)
    if metric == "roc_auc":
        return float(roc_auc_score(y_true == classes[1], proba[:, 1]))
    if metric == "neg_log_loss":
        return -float(log_loss(y_true, proba, labels=classes))
    raise ValueError(metric)


def make_split(name: str, seed: int, metric_mode: str, test_size: float) -> Split:
    frame, target = _common.load_dataset(name)
    prepared = prepare_data(frame, target)
    held = split_holdout(prepared.features, prepared.target, prepared.task, test_size, seed)
    metric = pick_metric(prepared.task, metric_mode)
    return Split(
        name, prepared.task, metric, held.X_train, held.X_test, held.y_train, held.y_test, seed
    )


# --------------------------------------------------------------------------- tunelab


def run_tunelab(split: Split, budget: float, n_jobs: int, inner_folds: int) -> Outcome:
    start = time.perf_counter()
    deadline = time.time() + budget
    schema = infer_schema(split.X_train, split.y_train, split.task)
    settings = SearchSettings(
        schema=schema,
        families=tuple(resolve_families(None, split.task)),
        metric=split.metric,
        inner_folds=inner_folds,
        max_evals=1_000_000,
        seed=split.seed,
        n_jobs=n_jobs,
    )
    search = run_search(split.X_train, split.y_train, settings, label="final", deadline=deadline)
    searched = time.perf_counter() - start
    model, _ = fit_and_score(
        search.best_config, settings, split.X_train, split.y_train, split.X_test, split.y_test
    )
    wall = time.perf_counter() - start
    score = test_score(
        split.metric,
        split.y_test,
        lambda: model.predict(split.X_test),
        lambda: model.predict_proba(split.X_test),
        getattr(model, "classes_", None),
    )
    counts = {s: sum(t.status == s for t in search.trials) for s in ("pruned", "failed")}
    note = [f"{n} {'failed/cut' if s == 'failed' else s}" for s, n in counts.items() if n]
    note.append(f"search {searched:.1f}s + refit {wall - searched:.1f}s")
    return Outcome(
        "tunelab",
        score,
        wall,
        search.n_evaluated,
        search.best_config["model"]["family"],
        note="; ".join(note),
    )


# --------------------------------------------------------------------------- FLAML


def flaml_frame(split: Split, frame: pd.DataFrame) -> pd.DataFrame:
    """The raw table minus columns tunelab drops (ids, constants); ISO dates parsed as dates."""
    schema = infer_schema(split.X_train, split.y_train, split.task)
    keep = schema.used_columns
    frame = frame[keep].copy()
    for name in schema.names_with_role("datetime"):
        frame[name] = pd.to_datetime(frame[name], errors="coerce", format="ISO8601")
    for name in frame.columns:
        if frame[name].dtype == object or pd.api.types.is_string_dtype(frame[name]):
            frame[name] = frame[name].astype("category")
    return frame


def run_flaml(split: Split, budget: float, n_jobs: int, inner_folds: int) -> Outcome:
    from flaml import AutoML

    start = time.perf_counter()
    X_train = flaml_frame(split, split.X_train)
    automl = AutoML()
    automl.fit(
        X_train,
        split.y_train,
        task="regression" if split.task == "regression" else "classification",
        metric=FLAML_METRIC[split.metric],
        time_budget=budget,
        seed=split.seed,
        n_jobs=n_jobs,
        verbose=0,
    )
    wall = time.perf_counter() - start
    X_test = flaml_frame(split, split.X_test)
    score = test_score(
        split.metric,
        split.y_test,
        lambda: automl.predict(X_test),
        lambda: automl.predict_proba(X_test),
        getattr(automl, "classes_", None),
    )
    # config_history only keeps the trials that improved the best; count every iteration.
    trials = sum(getattr(automl, "_iter_per_learner", {}).values()) or len(automl.config_history)
    return Outcome("flaml", score, wall, trials, str(automl.best_estimator))


# --------------------------------------------------------------------------- hyperopt-sklearn


def run_hpsklearn(split: Split, budget: float, n_jobs: int, inner_folds: int) -> Outcome:
    from hpsklearn import HyperoptEstimator, any_classifier, any_preprocessing, any_regressor
    from hpsklearn.estimator._transform import _transform_combine_XEX
    from hyperopt import tpe

    start = time.perf_counter()
    deadline = start + budget
    schema = infer_schema(split.X_train, split.y_train, split.task)
    encoder = make_preprocessor(schema, scale=False, seed=split.seed)
    X_train = np.asarray(encoder.fit_transform(split.X_train, split.y_train), dtype=float)
    classification = split.task != "regression"
    # Labels 0..K-1 as tunelab's LabelEncodedClassifier gives every family: hpsklearn's
    # XGBClassifier rejects text labels such as churn's "no"/"yes".
    labels = LabelEncoder().fit(split.y_train) if classification else None
    y_train = labels.transform(split.y_train) if labels is not None else split.y_train.to_numpy()
    estimator = HyperoptEstimator(
        classifier=any_classifier("clf") if classification else None,
        regressor=None if classification else any_regressor("reg"),
        preprocessing=any_preprocessing("pre"),
        algo=tpe.suggest,
        max_evals=1_000_000,
        trial_timeout=budget,
        seed=split.seed,
        n_jobs=n_jobs,
    )
    errors: list[str] = []

    def new_iterator(warm: bool):
        iterator = estimator.fit_iter(
            X_train,
            y_train,
            n_folds=inner_folds,
            cv_shuffle=True,
            warm_start=warm,
            random_state=np.random.default_rng(split.seed),
        )
        next(iterator)
        return iterator

    # hpsklearn drops its own seed when hyperopt's fmin takes ``rstate`` (it only passes
    # rstate on the other branch), so each one-trial fmin call is seeded through the env var.
    previous_seed = os.environ.get("HYPEROPT_FMIN_SEED")
    sink = io.StringIO()  # fmin's progress bar; hpsklearn does not turn it off
    try:
        with contextlib.redirect_stderr(sink), contextlib.redirect_stdout(sink):
            iterator = new_iterator(False)
            attempt = 0
            while time.perf_counter() < deadline - 0.05:
                estimator.trial_timeout = max(0.1, deadline - time.perf_counter())
                # Counted here, not len(trials): a trial that raised is left out of
                # ``Trials.trials``, so that count would re-propose the same failing config.
                os.environ["HYPEROPT_FMIN_SEED"] = str(split.seed * 1_000_003 + attempt)
                attempt += 1
                try:
                    iterator.send(1)
                except Exception as exc:  # a trial raised in hpsklearn's child process
                    errors.append(f"{type(exc).__name__}: {exc}"[:200])
                    if len(errors) > 500:
                        break
                    iterator = new_iterator(True)
            if estimator._best_learner is None:
                raise RuntimeError("no hyperopt-sklearn trial finished within the budget")
            estimator._retrain_best_model_on_full_data(X_train, y_train)
    finally:
        if previous_seed is None:
            os.environ.pop("HYPEROPT_FMIN_SEED", None)
        else:
            os.environ["HYPEROPT_FMIN_SEED"] = previous_seed
    wall = time.perf_counter() - start

    X_test = np.asarray(encoder.transform(split.X_test), dtype=float)
    best = estimator.best_model()
    learner = best["learner"]

    def transformed():
        return _transform_combine_XEX(
            X_test,
            info=lambda *a: None,
            en_pps=best["preprocs"],
            ex_pps_list=best["ex_preprocs"],
            fit_preproc=False,
        )

    def proba():
        if not hasattr(learner, "predict_proba"):
            raise AttributeError(f"{type(learner).__name__} has no predict_proba")
        return learner.predict_proba(transformed())

    note = []
    try:
        score = test_score(
            split.metric,
            split.y_test,
            lambda: (
                labels.inverse_transform(estimator.predict(X_test).astype(int))
                if labels is not None
                else estimator.predict(X_test)
            ),
            proba,
            labels.classes_ if labels is not None else None,
        )
    except Exception as exc:  # e.g. an SVC without probabilities under --metric native
        score = None
        note.append(f"unscorable: {type(exc).__name__}")
    statuses = [t["result"].get("status") for t in estimator.trials.trials]
    failed = sum(s != "ok" for s in statuses)
    if failed:
        note.append(f"{failed} failed/timed out")
    if errors:
        note.append(f"{len(errors)} raised")
    return Outcome(
        "hpsklearn",
        score,
        wall,
        len(statuses),
        type(learner).__name__,
        note="; ".join(note),
        extra={"errors": errors},
    )


RUNNERS = {"tunelab": run_tunelab, "flaml": run_flaml, "hpsklearn": run_hpsklearn}


def _run_in_child(connection, system: str, split: Split, budget: float, n_jobs: int, folds: int):
    import multiprocessing

    # A spawned child inherits "spawn" as its default start method; hyperopt-sklearn would then
    # spawn (re-import everything, ~3 s) for every trial instead of forking this fresh process.
    multiprocessing.set_start_method("fork", force=True)
    warnings.simplefilter("ignore")
    try:
        outcome = RUNNERS[system](split, budget, n_jobs, folds)
    except Exception as exc:
        outcome = Outcome(
            system,
            note=f"error: {type(exc).__name__}: {exc}"[:120],
            extra={"traceback": traceback.format_exc()},
        )
    connection.send(outcome)
    connection.close()


def run_isolated(system: str, split: Split, args: argparse.Namespace) -> Outcome:
    """Each run gets a fresh spawned process: no warm caches or OpenMP pools left by another
    system, and no fork of a process whose OpenMP runtime is already initialised (with that,
    hyperopt-sklearn's forked trial processes hung until their timeout).

    """
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(
        target=_run_in_child,
        args=(sender, system, split, args.budget, args.n_jobs, args.inner_folds),
    )
    child.start()
    sender.close()
    try:
        outcome = receiver.recv()
    except EOFError:
        outcome = Outcome(system, note=f"error: child process died (exit code {child.exitcode})")
    child.join()
    return outcome


def check_peers(systems: list[str]) -> dict[str, str]:
    """Which peers cannot even be imported, and why (reported instead of crashing)."""
    problems = {}
    for system, module in (("flaml", "flaml"), ("hpsklearn", "hpsklearn")):
        if system not in systems:
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                __import__(module)
        except Exception as exc:
            problems[system] = f"import failed: {type(exc).__name__}: {exc}"
    return problems


def verdict(ours: float | None, theirs: float | None) -> str | None:
    if ours is None or theirs is None:
        return None
    if abs(ours - theirs) <= TIE:
        return "tie"
    return "win" if ours > theirs else "loss"


def score_gap(pivot: list[dict[str, Any]], peer: str) -> dict[str, float | None]:
    """Mean and standard error of tunelab's score minus the peer's over paired runs."""
    gaps = [
        e["tunelab"] - e[peer] for e in pivot if e["tunelab"] is not None and e[peer] is not None
    ]
    if not gaps:
        return {"mean gap": None, "std error": None}
    error = float(np.std(gaps, ddof=1) / np.sqrt(len(gaps))) if len(gaps) > 1 else None
    return {"mean gap": float(np.mean(gaps)), "std error": error}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", type=float, default=15.0, help="seconds per system and run")
    parser.add_argument(
        "--datasets",
        nargs="+",
        default=["breast_cancer", "wine", "diabetes", "churn"],
        help=f"any of {', '.join(_common.OFFLINE_DATASETS)} or 'all'",
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--systems", nargs="+", default=list(SYSTEMS), choices=SYSTEMS)
    parser.add_argument("--metric", choices=("common", "native"), default="common")
    parser.add_argument("--n-jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--inner-folds", type=int, default=3)
    parser.add_argument("--test-size", type=float, default=0.2)
    parser.add_argument("--verbose", action="store_true", help="print tracebacks of failures")
    args = parser.parse_args()
    datasets = list(_common.OFFLINE_DATASETS) if args.datasets == ["all"] else args.datasets
    warnings.simplefilter("ignore")

    print("# quality_vs_peers")
    print(_common.machine_line())
    versions = []
    for package in ("flaml", "hyperopt-sklearn", "hyperopt", "lightgbm", "xgboost"):
        try:
            from importlib.metadata import version

            versions.append(f"{package} {version(package)}")
        except Exception:
            versions.append(f"{package} not installed")
    print("versions: " + ", ".join(versions))
    print(
        f"budget {args.budget:g}s per system, n_jobs {args.n_jobs}, inner folds "
        f"{args.inner_folds}, test_size {args.test_size}, metric set '{args.metric}', "
        f"seeds {args.seeds}"
    )
    unavailable = check_peers(args.systems)
    for system, problem in unavailable.items():
        print(f"NOTE: {system} unavailable: {problem}")

    rows: list[dict[str, Any]] = []
    raised: dict[tuple[str, str, str], int] = {}
    for seed in args.seeds:
        for name in datasets:
            split = make_split(name, seed, args.metric, args.test_size)
            for system in args.systems:
                if system in unavailable:
                    outcome = Outcome(system, note=unavailable[system])
                else:
                    outcome = run_isolated(system, split, args)
                    if args.verbose and "traceback" in outcome.extra:
                        print(outcome.extra["traceback"])
                row = {
                    "dataset": name,
                    "seed": seed,
                    "task": split.task,
                    "rows": len(split.X_train) + len(split.X_test),
                    "metric": split.metric,
                    "system": system,
                    "test score": outcome.score,
                    "wall s": outcome.wall,
                    "trials": outcome.trials,
                    "best model": outcome.best,
                    "load 1m": os.getloadavg()[0],
                    "note": outcome.note,
                }
                rows.append(row)
                for error in outcome.extra.get("errors", []):
                    raised[(system, name, error)] = raised.get((system, name, error), 0) + 1
                print(
                    f"  done {name} seed={seed} {system}: score={outcome.score} "
                    f"wall={outcome.wall and round(outcome.wall, 1)}s {outcome.note}",
                    flush=True,
                )

    _common.print_table("Held-out test scores (higher is better)", rows)

    pivot = []
    for seed in args.seeds:
        for name in datasets:
            here = {r["system"]: r for r in rows if r["dataset"] == name and r["seed"] == seed}
            entry: dict[str, Any] = {
                "dataset": name,
                "seed": seed,
                "metric": here[SYSTEMS[0]]["metric"] if SYSTEMS[0] in here else "",
            }
            for system in args.systems:
                entry[system] = here[system]["test score"]
            for system in args.systems:
                entry[f"{system} wall"] = here[system]["wall s"]
            pivot.append(entry)
    _common.print_table("Side by side", pivot)
    if raised:
        _common.print_table(
            "Exceptions raised out of peer trials (the trial is lost, the search goes on)",
            [
                {"system": s, "dataset": d, "count": n, "error": e}
                for (s, d, e), n in raised.items()
            ],
        )

    if "tunelab" in args.systems:
        tally = []
        for peer in [s for s in args.systems if s != "tunelab"]:
            counts = {"win": 0, "tie": 0, "loss": 0, "n/a": 0}
            for entry in pivot:
                counts[verdict(entry["tunelab"], entry[peer]) or "n/a"] += 1
            tally.append({"tunelab vs": peer, **counts, **score_gap(pivot, peer)})
        # A win/tie/loss count hides how large the differences are, and on test sets of a few
        # hundred rows one row is ~0.003-0.03: the mean gap and its standard error say more.
        _common.print_table(
            f"tunelab win/tie/loss (tie = within {TIE}) and mean score gap (tunelab - peer)",
            tally,
        )
    walls = [r["wall s"] for r in rows if r["wall s"] is not None]
    if walls:
        over = [(r["system"], r["dataset"], r["wall s"]) for r in rows if r["wall s"]]
        worst = max(over, key=lambda x: x[2])
        print(f"\nbudget {args.budget:g}s; longest wall {worst[2]:.1f}s ({worst[0]} on {worst[1]})")


if __name__ == "__main__":
    main()

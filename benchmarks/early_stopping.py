"""Boosters with early stopping vs a fixed or searched number of trees.

Two measurements on real tables from ``../shared/datasets``:

* ``configs``: the boosters' portfolio configurations (``_lightgbm_portfolio`` /
  ``_xgboost_portfolio``) through tunelab's own pipeline builder, scored by 5-fold CV with the
  task's default metric, fitted four ways: the tree count the portfolio had before early
  stopping (100 for the library defaults, 300 for the second entry), early stopping keeping
  the stopped model (``refit=False``), and early stopping followed by a refit on all rows
  with the tree count found, as is (tunelab's default) and scaled by
  ``1 / (1 - validation_fraction)``.
* ``search``: ``tunelab.train(orchestrate=False, families=[...], time_budget=B)`` with the
  searched ``n_estimators`` of before (50..400, learning rate from 0.01, the old portfolio)
  vs early stopping without and with the refit: unseen test score, nested-CV estimate,
  trials, mean seconds per trial, wall time.

The "before" behaviour is rebuilt from the current classes (a validation split that can never
be large enough means a plain fit with ``small_data_n_estimators`` trees), so no old checkout
is needed. Runs write to a temporary folder.
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import _common
import numpy as np
import pandas as pd

NEVER = 2**31 - 1  # min_validation_rows that no table reaches: a plain fit


def _fixed(config: dict[str, Any], trees: int) -> dict[str, Any]:
    model = {**config["model"], "min_validation_rows": NEVER, "small_data_n_estimators": trees}
    return {**config, "model": model}


def _model_step(fitted: Any) -> Any:
    pipeline = getattr(fitted, "estimator_", fitted)  # LabelEncodedClassifier for classification
    return pipeline.named_steps["model"]


def cv_configs(entry: dict[str, Any], rows: list[dict[str, Any]], folds: int, seed: int) -> None:
    from sklearn.metrics import get_scorer
    from sklearn.model_selection import KFold, StratifiedKFold

    from tunelab.metrics import DEFAULT_METRICS
    from tunelab.models import get_family
    from tunelab.models.boosting import VALIDATION_FRACTION
    from tunelab.pipelines import build_pipeline, infer_schema

    frame = pd.read_csv(Path(_common.DEFAULT_DATA_DIR) / entry["file"])
    frame = frame.dropna(subset=[entry["target"]])
    X, y = frame.drop(columns=[entry["target"]]), frame[entry["target"]]
    task = entry["task"]
    schema = infer_schema(X, y, task)
    metric = DEFAULT_METRICS[task]
    scorer = get_scorer(metric)
    splitter = (StratifiedKFold if task != "regression" else KFold)(
        folds, shuffle=True, random_state=seed
    )
    splits = list(splitter.split(X, y))
    for family in ("lightgbm", "xgboost"):
        for rank, params in enumerate(get_family(family).portfolio(task)):
            old_trees = 100 if rank == 0 else 300
            config = {
                "model": {"family": family, **params},
                "feature_selection": {"method": "none"},
            }
            kept = {**config, "model": {**config["model"], "refit": False}}
            variants = {
                f"fixed {old_trees} (before)": ("fixed", old_trees),
                "es, stopped model kept": ("kept", None),
                "es + refit n (tunelab)": ("refit", None),
                "es + refit n/(1-f)": ("scaled", 1 / (1 - VALIDATION_FRACTION)),
            }
            for label, (kind, scale) in variants.items():
                scores, seconds, trees = [], [], []
                for train, test in splits:
                    X_tr, y_tr = X.iloc[train], y.iloc[train]
                    start = time.perf_counter()
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        if kind == "fixed":
                            model = build_pipeline(_fixed(config, old_trees), schema, seed=seed)
                            model.fit(X_tr, y_tr)
                            found = old_trees
                        else:
                            chosen = config if kind == "refit" else kept
                            model = build_pipeline(chosen, schema, seed=seed).fit(X_tr, y_tr)
                            found = _model_step(model).best_n_estimators_
                            if kind == "scaled":
                                found = max(1, math.ceil(found * scale))
                                plain = build_pipeline(_fixed(config, found), schema, seed=seed)
                                model = plain.fit(X_tr, y_tr)
                        seconds.append(time.perf_counter() - start)
                        scores.append(scorer(model, X.iloc[test], y.iloc[test]))
                    trees.append(found)
                rows.append(
                    {
                        "dataset": entry["name"],
                        "family": family,
                        "config": "defaults" if rank == 0 else "2nd",
                        "variant": label,
                        "metric": metric,
                        "score": f"{np.mean(scores):.4f}",
                        "sd": f"{np.std(scores):.4f}",
                        "trees": f"{np.mean(trees):.0f}",
                        "fit s": f"{np.mean(seconds):.2f}",
                    }
                )
                print(rows[-1], flush=True)


def _old_family(family: str) -> Any:
    """The family as it was: n_estimators searched in 50..400, learning rate from 0.01."""
    from dataclasses import replace

    from tunelab.models import get_family
    from tunelab.models.distributions import Uniform

    current = get_family(family)
    old_first_trees = (100, 300)

    def params(task):
        space = dict(current.params(task))
        space["learning_rate"] = Uniform(0.01, 0.3, log=True)
        return {"n_estimators": Uniform(50, 400, integer=True), **space}

    def build(p, task, seed, n_jobs):
        p = dict(p)
        trees = int(p.pop("n_estimators"))
        p.update(min_validation_rows=NEVER, small_data_n_estimators=trees, n_estimators=trees)
        return current.build(p, task, seed, n_jobs)

    def portfolio(task):
        return [
            {"n_estimators": n, **c}
            for n, c in zip(old_first_trees, current.portfolio(task), strict=True)
        ]

    return replace(current, params=params, build=build, portfolio=portfolio)


def _kept_family(family: str) -> Any:
    """Early stopping without the refit on all rows."""
    from dataclasses import replace

    from tunelab.models import get_family

    current = get_family(family)

    def build(p, task, seed, n_jobs):
        return current.build({**p, "refit": False}, task, seed, n_jobs)

    return replace(current, build=build)


def search_runs(entry, rows, families, budget, seed, work: Path) -> None:
    import tunelab
    from tunelab import models

    path = Path(_common.DEFAULT_DATA_DIR) / entry["file"]
    for family in families:
        for label in ("searched n_estimators (before)", "es, stopped model kept", "es + refit"):
            registry = models._load_families()
            saved = registry[family]
            if label.startswith("searched"):
                registry[family] = _old_family(family)
            elif label.startswith("es,"):
                registry[family] = _kept_family(family)
            try:
                start = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    result = tunelab.train(
                        str(path),
                        target=entry["target"],
                        orchestrate=False,
                        families=[family],
                        time_budget=budget,
                        n_jobs=2,
                        seed=seed,
                        report=False,
                        data_dir=str(work),
                        name=f"{entry['name']}-{family}-{len(rows)}",
                    )
                wall = time.perf_counter() - start
            finally:
                registry[family] = saved
            board = pd.read_csv(Path(result.location) / "leaderboard.csv")
            rows.append(
                {
                    "dataset": entry["name"],
                    "family": family,
                    "variant": label,
                    "metric": result.metric,
                    "test": f"{result.test_score:.4f}",
                    "nested cv": f"{result.outer_cv.get('mean', float('nan')):.4f}",
                    "trials": len(board),
                    "trial fit s": f"{board['fit_seconds'].mean():.2f}",
                    "wall s": f"{wall:.1f}",
                }
            )
            print(rows[-1], flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", default="bank_churn,seattle_weather,insurance")
    parser.add_argument("--part", choices=["configs", "search", "both"], default="both")
    parser.add_argument("--families", default="lightgbm,xgboost")
    parser.add_argument("--budget", type=float, default=20.0)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    print(_common.machine_line())
    entries = _common.pick_datasets(_common.DEFAULT_DATA_DIR, args.datasets)
    if args.part in ("configs", "both"):
        rows: list[dict[str, Any]] = []
        for entry in entries:
            cv_configs(entry, rows, args.folds, args.seed)
        _common.print_table("Portfolio configurations, 5-fold CV", rows)
    if args.part in ("search", "both"):
        rows = []
        with tempfile.TemporaryDirectory(prefix="tunelab-es-") as work:
            for entry in entries:
                search_runs(
                    entry, rows, args.families.split(","), args.budget, args.seed, Path(work)
                )
        _common.print_table(f"tunelab.train, time_budget={args.budget:g}s", rows)
    print("load after:", _common.load_average())


if __name__ == "__main__":
    main()

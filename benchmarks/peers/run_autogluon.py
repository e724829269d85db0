"""AutoGluon ``TabularPredictor(...).fit(presets="medium_quality")`` on the raw CSV with the
budget left after start-up as ``time_limit``, the benchmark's metric and ``num_cpus`` (2).
AutoGluon does its own feature handling (dates, text, categoricals, missing values)."""

from __future__ import annotations

import os
import time
import warnings

import _peer_io as io

args = io.parse_args(__doc__.splitlines()[0])
warnings.simplefilter("ignore")
from autogluon.tabular import TabularPredictor, __version__  # noqa: E402

METRICS = {"binary": "roc_auc", "multiclass": "log_loss", "regression": "r2"}

train, test = io.read_raw(args.train), io.read_raw(args.test)
budget = io.remaining(args)
start = time.time()
predictor = TabularPredictor(
    label=args.target,
    problem_type=args.task,
    eval_metric=METRICS[args.task],
    path=os.path.join(args.work, "autogluon"),
    verbosity=0,
).fit(train, time_limit=budget, presets="medium_quality", num_cpus=args.n_jobs)
fit_seconds = time.time() - start
if args.task == "regression":
    io.write_predictions(args.out, args.task, predictor.predict(test))
else:
    proba = predictor.predict_proba(test)
    io.write_predictions(
        args.out, args.task, proba.idxmax(axis=1), proba.to_numpy(), list(proba.columns)
    )
board = predictor.leaderboard(silent=True)
io.write_info(
    args.info,
    fit_seconds=fit_seconds,
    budget_given=budget,
    model=predictor.model_best,
    models_trained=len(board),
    version=__version__,
)

"""FLAML ``AutoML.fit`` with the budget left after start-up as ``time_budget``, the benchmark's
metric, ``n_jobs`` and ``seed``; library defaults otherwise (so its final retrain on all rows,
``retrain_full=True``, runs after the search as a user would get it). Input: the minimal
conversion in ``_peer_io`` (text -> category, ISO dates -> numeric parts)."""

from __future__ import annotations

import os
import time
import warnings

import _peer_io as io

args = io.parse_args(__doc__.splitlines()[0])
warnings.simplefilter("ignore")
from flaml import AutoML, __version__  # noqa: E402

METRICS = {"binary": "roc_auc", "multiclass": "log_loss", "regression": "r2"}

train, test = io.read_raw(args.train), io.read_raw(args.test)
y = train.pop(args.target)
X_train, X_test = io.minimal_conversion(train, test)
automl = AutoML()
budget = io.remaining(args)
start = time.time()
automl.fit(
    X_train=X_train,
    y_train=y,
    task="regression" if args.task == "regression" else "classification",
    metric=METRICS[args.task],
    time_budget=budget,
    n_jobs=args.n_jobs,
    seed=args.seed,
    verbose=0,
    log_file_name=os.path.join(args.work, "flaml.log"),
)
fit_seconds = time.time() - start
io.write_estimator_predictions(args.out, args.task, automl, X_test)
io.write_info(
    args.info,
    fit_seconds=fit_seconds,
    budget_given=budget,
    model=automl.best_estimator,
    best_config=automl.best_config,
    version=__version__,
)

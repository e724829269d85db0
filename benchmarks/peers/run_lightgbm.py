"""Untuned LightGBM: ``LGBMClassifier()`` / ``LGBMRegressor()`` with library defaults and
``n_jobs`` (2), after the minimal conversion in ``_peer_io`` (text -> category, ISO dates ->
numeric parts). No search, so it ignores the budget."""

from __future__ import annotations

import time
import warnings

import _peer_io as io

args = io.parse_args(__doc__.splitlines()[0])
warnings.simplefilter("ignore")
import lightgbm  # noqa: E402

train, test = io.read_raw(args.train), io.read_raw(args.test)
y = train.pop(args.target)
X_train, X_test = io.minimal_conversion(train, test)
start = time.time()
if args.task == "regression":
    model = lightgbm.LGBMRegressor(n_jobs=args.n_jobs, verbose=-1)
else:
    model = lightgbm.LGBMClassifier(n_jobs=args.n_jobs, verbose=-1)
model.fit(X_train, y)
fit_seconds = time.time() - start
io.write_estimator_predictions(args.out, args.task, model, X_test)
io.write_info(
    args.info, fit_seconds=fit_seconds, model="LGBM defaults", version=lightgbm.__version__
)

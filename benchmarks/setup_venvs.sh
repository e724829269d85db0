#!/usr/bin/env bash
# Creates the peer virtual environments quality_vs_peers.py uses (see requirements.txt).
set -euo pipefail
ROOT="${BENCH_VENVS:-/work/bench-venvs}"
PY="${PYTHON:-python3}"
mkdir -p "$ROOT"
if [ ! -x "$ROOT/flaml/bin/python" ]; then
  "$PY" -m venv --system-site-packages "$ROOT/flaml"
fi
"$ROOT/flaml/bin/pip" install -q "flaml[automl]==2.8.0"
if [ ! -x "$ROOT/autogluon/bin/python" ]; then
  "$PY" -m venv "$ROOT/autogluon"
fi
"$ROOT/autogluon/bin/pip" install -q -U pip
"$ROOT/autogluon/bin/pip" install -q torch==2.13.0
"$ROOT/autogluon/bin/pip" install -q "autogluon.tabular[lightgbm,catboost,xgboost]==1.6.3"
"$ROOT/flaml/bin/python" -c "import flaml; print('flaml', flaml.__version__)"
"$ROOT/autogluon/bin/python" -c "import autogluon.tabular as t; print('autogluon.tabular', t.__version__)"

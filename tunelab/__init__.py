"""tunelab: AutoML as Prefect workflows.

The public functions are imported on first use, so ``import tunelab`` (and the CLI's
``--help``) does not pay for pandas, scikit-learn or Prefect.
"""

from __future__ import annotations

import os
from typing import Any

# OpenMP threads (LightGBM, XGBoost, scikit-learn) spin while they wait for each other by
# default; on a busy machine one descheduled thread then stalls the rest: a 10,000-row
# LightGBM fit on 2 threads took 1.4 s instead of 0.16 s here. Waiting threads must sleep.
# Set before any of those libraries load their OpenMP runtime; a user's own value wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from tunelab.errors import DataValidationError, ParameterError, RegistryError, TunelabError

_API = {"train", "load_model", "predict"}


def __getattr__(name: str) -> Any:
    if name in _API:
        from tunelab import api

        return getattr(api, name)
    if name == "RunConfig":
        from tunelab.config import RunConfig

        return RunConfig
    raise AttributeError(name)


__all__ = [
    "DataValidationError",
    "ParameterError",
    "RegistryError",
    "RunConfig",
    "TunelabError",
    "load_model",
    "predict",
    "train",
]

"""tunelab: AutoML as Prefect workflows.

The public functions are imported on first use, so ``import tunelab`` (and the CLI's
``--help``) does not pay for pandas, scikit-learn or Prefect.
"""

from __future__ import annotations

from typing import Any

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

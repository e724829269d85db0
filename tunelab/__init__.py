"""tunelab: AutoML as Prefect workflows."""

from tunelab.api import load_model, predict, train
from tunelab.errors import DataValidationError, ParameterError, RegistryError, TunelabError

__all__ = [
    "DataValidationError",
    "ParameterError",
    "RegistryError",
    "TunelabError",
    "load_model",
    "predict",
    "train",
]

"""The bundled example table, used by ``tunelab example`` and the served deployments."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

EXAMPLE_TARGET = "churned"


def example_data_path() -> Path:
    return Path(str(resources.files("tunelab") / "example_data" / "churn.csv"))

"""Where tunelab keeps its files: one data directory holding the registry and run checkpoints."""

from __future__ import annotations

import os
from pathlib import Path

DATA_DIR_ENV = "TUNELAB_HOME"
DEFAULT_DATA_DIR = "tunelab-data"


def data_dir(override: str | os.PathLike[str] | None = None) -> Path:
    """``override`` beats ``$TUNELAB_HOME`` beats ``./tunelab-data`` (next to the project)."""
    return Path(override or os.environ.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR).expanduser()


def registry_dir(override: str | os.PathLike[str] | None = None) -> Path:
    return Path(override) if override else data_dir() / "registry"


def runs_dir(override: str | os.PathLike[str] | None = None) -> Path:
    return Path(override) if override else data_dir() / "runs"

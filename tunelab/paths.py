"""Where tunelab keeps its files: one data directory holding the registry and run checkpoints."""

from __future__ import annotations

import os
from pathlib import Path

from tunelab.atomic import make_dirs
from tunelab.errors import ParameterError

DATA_DIR_ENV = "TUNELAB_HOME"
DEFAULT_DATA_DIR = "tunelab-data"


def data_dir(override: str | os.PathLike[str] | None = None) -> Path:
    """``override`` beats ``$TUNELAB_HOME`` beats ``./tunelab-data`` (next to the project).

    A path that is (or lies under) an existing file is refused here, with the variable or
    option that set it, instead of failing later with a traceback from deep inside a write.
    """
    source = "--data-dir" if override else (DATA_DIR_ENV if os.environ.get(DATA_DIR_ENV) else "")
    path = Path(override or os.environ.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR).expanduser()
    blocker = _first_existing(path)
    if blocker is not None and not blocker.is_dir():
        where = f" (from {source})" if source else ""
        raise ParameterError(
            f"Data dir {str(path)!r}{where} cannot be used: {str(blocker)!r} is a file, "
            "not a folder"
        )
    return path


def ensure_data_dir(override: str | os.PathLike[str] | None = None) -> Path:
    """The data dir, created if needed; raises a one-line error if it cannot be written."""
    return make_dirs(data_dir(override))


def _first_existing(path: Path) -> Path | None:
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return None

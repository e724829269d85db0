"""The training table handed to remote workers by path, so it crosses the wire once.

A Dask task's arguments are pickled into every task; three outer folds (and, before this,
every trial) each carried a copy of the table. On Dask the runner writes the table once to
the run's directory (which remote workers must see anyway: checkpoints live there) and the
tasks get a :class:`TableFile`; each worker process reads it once and keeps it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

#: Tables this process has read, by path (a run's table and its target: a few entries).
_READ: dict[str, pd.DataFrame | pd.Series] = {}
_KEEP = 4


@dataclass(frozen=True)
class TableFile:
    """A DataFrame or Series stored as Parquet at ``path`` (``series``: the one column)."""

    path: str
    series: bool = False

    def load(self) -> pd.DataFrame | pd.Series:
        if self.path not in _READ:
            if len(_READ) >= _KEEP:
                _READ.clear()
            frame = pd.read_parquet(self.path)
            _READ[self.path] = frame.iloc[:, 0] if self.series else frame
        return _READ[self.path]


def write_table(value: pd.DataFrame | pd.Series, path: Path) -> TableFile:
    """Stores ``value`` (index and dtypes kept) and returns the handle tasks receive."""
    path.parent.mkdir(parents=True, exist_ok=True)
    series = isinstance(value, pd.Series)
    frame = value.to_frame(name=value.name if value.name is not None else "_") if series else value
    frame.to_parquet(path)
    return TableFile(str(path), series)


def resolve(value: Any) -> Any:
    """The table behind a :class:`TableFile`; anything else as it is."""
    return value.load() if isinstance(value, TableFile) else value

"""Large tables held small: 32-bit floats and category codes instead of 64-bit floats and text.

Why: every search selects its rows (an outer fold's, then a trial's) and preprocesses them,
so a run holds several copies of its table at once. On 1,000,000 x 20 rows (16 numbers, 4
text categories) the table is 137 MiB as pandas reads it, and the run peaked 1.8 GiB above
what a 2,000-row run costs. Above :data:`COMPACT_ROWS` rows the features are converted once,
after validation: float64 columns to float32 (XGBoost bins in float32 anyway; a split point
between two float32 values is the same split), text to pandas ``category`` (one small integer
per row; each copy costs its codes, not its strings). The pipelines built for such a table
cast numbers to float32 first (:attr:`tunelab.pipelines.schema.DataSchema.numeric_dtype`),
so a model sees the same values when it predicts on the user's float64 columns as when it
was fitted. Smaller tables are left exactly as they are.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import sys
from collections.abc import Collection
from typing import Any

import pandas as pd

#: Rows (training and test together) above which a table is compacted.
COMPACT_ROWS = 100_000
#: glibc's ``mallopt`` parameter for the size above which an allocation gets its own pages.
_M_MMAP_THRESHOLD = -3
#: That size, fixed at glibc's own starting value (128 KiB).
_MMAP_THRESHOLD_BYTES = 128 * 1024


def compacts(rows: int) -> bool:
    """Whether a table of ``rows`` rows is held compact (the same rule for the frame and for
    the pipelines fitted on it)."""
    return rows > COMPACT_ROWS


def compact_column(column: pd.Series) -> pd.Series:
    """float64 as float32, text as ``category``; every other dtype as it is."""
    if column.dtype == "float64":
        return column.astype("float32")
    text = pd.api.types.is_object_dtype(column.dtype) or pd.api.types.is_string_dtype(column.dtype)
    if text and not isinstance(column.dtype, pd.CategoricalDtype):
        return column.astype("category")
    return column


def compact_frame(frame: pd.DataFrame, keep: Collection[str] = ()) -> pd.DataFrame:
    """``frame`` with :func:`compact_column` applied to each column but those in ``keep`` (a
    run's group, time and weight columns: rounding them to float32 could merge groups or
    reorder times), one column at a time so no second full-size copy is ever held."""
    return pd.DataFrame(
        {name: frame[name] if name in keep else compact_column(frame[name]) for name in frame},
        index=frame.index,
    )


def return_freed_memory() -> None:
    """Gives memory the run has freed back to the system, so the peak is what is in use.

    Why: pandas keeps text in Arrow arrays, and Arrow's allocator kept the 390 MiB a
    million-row Parquet file took to read after the frame was compacted. glibc, for its part,
    raises the size above which an array gets its own pages each time such an array is
    freed, after which arrays of that size are carved from the heap and kept when freed
    (a LightGBM fit on 384,000 rows left 80 MiB behind); fixing that size at glibc's own
    starting value keeps every large array returnable. Elsewhere than glibc this only
    releases Arrow's memory.
    """
    import gc

    import pyarrow

    # Frames held only by reference cycles (a finished trial's exception keeps its frames,
    # and their locals, alive) wait for Python's next full collection, which on a million
    # rows came minutes and 150 MiB late; one takes under 0.1 s.
    gc.collect()
    pyarrow.default_memory_pool().release_unused()
    libc = _glibc_with_fixed_mmap_threshold()
    if libc is not None:
        libc.malloc_trim(0)


@functools.cache
def _glibc_with_fixed_mmap_threshold() -> Any:
    """glibc, its mmap threshold fixed once per process (the setting stays); None elsewhere.

    Cached because finding the library runs ``ldconfig`` in a subprocess, and this is asked
    after every trial of a large table.
    """
    if not sys.platform.startswith("linux"):
        return None
    # A C library without mallopt (musl) is no error: its memory is returned as it is.
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_BYTES)
        return libc
    return None


def return_freed_memory_after_large_fit(schema: Any) -> None:
    """:func:`return_freed_memory` when ``schema`` is a compact table's (a ``DataSchema``):
    after each of its trials and before each refit, where a large fit's copies were freed."""
    if schema.compact:
        return_freed_memory()

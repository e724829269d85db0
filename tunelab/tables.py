"""Writing result tables: the format follows the file name, and the write is atomic."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import pandas as pd

from tunelab.atomic import atomic_writer
from tunelab.errors import ParameterError


def check_output_path(path: Path) -> Path:
    if not path.name.lower().endswith((".csv", ".parquet", ".pq")):
        raise ParameterError(f"Output {str(path)!r} must end in .csv or .parquet")
    return path


def write_table(frame: pd.DataFrame, path: Path) -> Path:
    with table_writer(path) as writer:
        writer.write(frame)
    return path


@contextlib.contextmanager
def table_writer(path: Path) -> Iterator[ChunkWriter]:
    """A writer that takes a table chunk by chunk into one CSV or Parquet file, which appears
    (atomically) only when the block ends without an error: batch prediction never holds the
    whole output in memory."""
    check_output_path(path)
    with atomic_writer(path) as handle:
        writer = ChunkWriter(handle, parquet=not path.name.lower().endswith(".csv"))
        try:
            yield writer
        finally:
            writer.close()


class ChunkWriter:
    """CSV chunks are the bytes ``to_csv`` gives for the whole frame (the header once, index
    labels as given); Parquet chunks become row groups with the first chunk's schema."""

    def __init__(self, handle: BinaryIO, parquet: bool):
        self.handle = handle
        self.parquet = parquet
        self.rows = 0
        self._parquet_writer: Any = None

    def write(self, frame: pd.DataFrame) -> None:
        if not self.parquet:
            self.handle.write(frame.to_csv(header=self.rows == 0).encode())
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq

            if self._parquet_writer is None:
                table = pa.Table.from_pandas(frame, preserve_index=True)
                self._parquet_writer = pq.ParquetWriter(self.handle, table.schema)
            schema = self._parquet_writer.schema
            table = pa.Table.from_pandas(frame, schema=schema, preserve_index=True)
            self._parquet_writer.write_table(table)
        self.rows += len(frame)

    def close(self) -> None:
        if self._parquet_writer is not None:
            self._parquet_writer.close()
            self._parquet_writer = None


def markdown_table(frame: pd.DataFrame) -> str:
    """A small Markdown table for Prefect artifacts (pandas' own needs the tabulate package)."""
    header = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "|" + "---|" * len(frame.columns)
    rows = ["| " + " | ".join(map(str, row)) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *rows])

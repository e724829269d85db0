"""Writing result tables: the format follows the file name, and the write is atomic."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from tunelab.atomic import write_bytes_atomic
from tunelab.errors import ParameterError


def write_table(frame: pd.DataFrame, path: Path) -> Path:
    name = path.name.lower()
    buffer = io.BytesIO()
    if name.endswith((".parquet", ".pq")):
        frame.to_parquet(buffer)
    elif name.endswith(".csv"):
        buffer.write(frame.to_csv().encode())
    else:
        raise ParameterError(f"Output {str(path)!r} must end in .csv or .parquet")
    write_bytes_atomic(path, buffer.getvalue())
    return path


def markdown_table(frame: pd.DataFrame) -> str:
    """A small Markdown table for Prefect artifacts (pandas' own needs the tabulate package)."""
    header = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "|" + "---|" * len(frame.columns)
    rows = ["| " + " | ".join(map(str, row)) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *rows])

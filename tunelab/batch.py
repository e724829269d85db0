"""Batch prediction of a table of any length: read, score and write a chunk at a time.

Peak memory then follows the chunk, not the table: a 1,000,000-row CSV is never held whole,
neither as input nor as output (see ``benchmarks/predict_memory.py``). Each chunk is
checked against the model's schema and scored with one pass through the model
(:func:`tunelab.scoring.predict_frame`); the output file appears only once every chunk is
written, so a failure half-way leaves no half file.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from tunelab.errors import DataValidationError
from tunelab.keys import with_key_columns
from tunelab.scoring import ExtraColumns, predict_frame
from tunelab.sources import read_chunks
from tunelab.store import RegisteredModel
from tunelab.tables import table_writer

#: Rows scored at a time: large enough that per-chunk overhead is noise, small enough that a
#: chunk of a wide table stays far below the file's size in memory.
CHUNK_ROWS = 100_000


@dataclass
class BatchPrediction:
    rows: int
    output: Path
    #: The predicted labels or values alone (one column), for the run's summary.
    predictions: pd.Series


def predict_source(
    entry: RegisteredModel,
    data: str,
    output: Path,
    *,
    table: str | None = None,
    query: str | None = None,
    extra_columns: ExtraColumns = "error",
    keep_columns: list[str] | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> BatchPrediction:
    """Scores the table at ``data`` (path, URL or database) into ``output`` in chunks."""
    chunks = read_chunks(data, table=table, query=query, chunk_rows=chunk_rows)
    return predict_chunks(entry, chunks, output, extra_columns, keep_columns)


def predict_in_memory(
    entry: RegisteredModel,
    frame: pd.DataFrame,
    extra_columns: ExtraColumns = "error",
    chunk_rows: int = CHUNK_ROWS,
) -> pd.DataFrame:
    """Predictions for a DataFrame already in memory, scored ``chunk_rows`` at a time so the
    pipeline's intermediate arrays stay the size of a chunk."""
    if len(frame) <= chunk_rows:
        return predict_frame(entry, frame, extra_columns)
    parts = [
        predict_frame(entry, frame.iloc[start : start + chunk_rows], extra_columns)
        for start in range(0, len(frame), chunk_rows)
    ]
    return pd.concat(parts)


def predict_chunks(
    entry: RegisteredModel,
    chunks: Iterable[pd.DataFrame],
    output: Path,
    extra_columns: ExtraColumns = "error",
    keep_columns: list[str] | None = None,
) -> BatchPrediction:
    schema: dict[str, Any] = entry.metadata["schema"]
    labels: list[pd.Series] = []
    with table_writer(output) as writer:
        for frame in chunks:
            scored = predict_frame(entry, frame, extra_columns)
            writer.write(with_key_columns(scored, frame, schema, keep_columns))
            labels.append(scored["prediction"])
        if not labels:
            raise DataValidationError("The prediction table is empty (no rows)")
    predictions = pd.concat(labels) if len(labels) > 1 else labels[0]
    return BatchPrediction(rows=len(predictions), output=output, predictions=predictions)

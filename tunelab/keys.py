"""Key columns in prediction output, so predicted rows can be joined back to their source.

A table's identifier (``customer_id``) is dropped from the model's inputs, which is right for
learning and wrong for the output: without it rows match only by position.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from tunelab.errors import DataValidationError
from tunelab.listing import some_names


def identifier_columns(schema: dict[str, Any]) -> list[str]:
    """Columns the schema dropped because every value was unique (identifiers), then the
    run's group and time columns (``key_columns``), each once."""
    identifiers = [
        column["name"]
        for column in schema.get("columns", [])
        if column.get("role") == "dropped"
        and str(column.get("reason", "")).startswith("identifier")
    ]
    keys = (schema.get("extra") or {}).get("key_columns", [])
    return list(dict.fromkeys([*identifiers, *keys]))


def with_key_columns(
    predictions: pd.DataFrame,
    frame: pd.DataFrame,
    schema: dict[str, Any],
    keep: list[str] | None = None,
) -> pd.DataFrame:
    """``predictions`` with the identifier columns (or the ``keep`` ones) in front."""
    wanted = list(keep) if keep else identifier_columns(schema)
    missing = [c for c in wanted if c not in frame.columns]
    if keep and missing:
        raise DataValidationError(
            f"Columns to keep are not in the prediction table: {some_names(missing)}"
        )
    present = [c for c in wanted if c in frame.columns and c not in predictions.columns]
    if not present:
        return predictions
    return pd.concat([frame.loc[predictions.index, present], predictions], axis=1)

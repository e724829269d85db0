"""The Python API: the same flows the CLI and the Prefect UI run, callable from a notebook."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from tunelab.atomic import write_bytes_atomic
from tunelab.data import split_features_target
from tunelab.paths import data_dir as resolve_data_dir
from tunelab.predict import ExtraColumns, predict_frame
from tunelab.provenance import fingerprint
from tunelab.registry import ModelRegistry, RegisteredModel


def _stage_frame(frame: pd.DataFrame, target: str, data_dir: str | None) -> str:
    """Flow parameters must be JSON (the UI shows them), so a DataFrame travels as a file."""
    split_features_target(frame, target)  # fail fast, before anything is written
    path = resolve_data_dir(data_dir) / "inputs" / f"{fingerprint(frame)}.parquet"
    if not path.exists():
        write_bytes_atomic(path, frame.to_parquet())
    return str(path)


def train(data: str | Path | pd.DataFrame, target: str, **params: Any) -> dict[str, Any]:
    """Runs the ``tunelab-train`` flow; ``params`` are the flow's parameters (see its docstring)."""
    from flows.training import train_flow

    if isinstance(data, pd.DataFrame):
        data = _stage_frame(data, target, params.get("data_dir") or None)
    return train_flow(data=str(data), target=target, **params)


def load_model(
    name: str, version: int | str = "latest", data_dir: str | None = None
) -> RegisteredModel:
    """A registered model (``.model`` is the fitted pipeline), verified against its hash."""
    return ModelRegistry(resolve_data_dir(data_dir) / "registry").load(name, version)


def predict(
    name: str,
    data: pd.DataFrame,
    version: int | str = "latest",
    data_dir: str | None = None,
    extra_columns: ExtraColumns = "error",
) -> pd.DataFrame:
    """In-process scoring without a flow run, for notebooks and services."""
    return predict_frame(load_model(name, version, data_dir), data, extra_columns)

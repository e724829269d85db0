"""The Python API: the same procedure the CLI and the Prefect UI run, callable from a notebook."""

from __future__ import annotations

import contextlib
import gc
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from tunelab.budget import clock_scope
from tunelab.call_context import CALL_STARTED, PRELOADED, Handoff
from tunelab.config import RunConfig
from tunelab.errors import DataValidationError

if TYPE_CHECKING:  # imported where used: the CLI starts a run without the search's libraries
    from tunelab.outcome import TrainingResult
    from tunelab.scoring import ExtraColumns
    from tunelab.store import RegisteredModel

#: ``data`` placeholder while a DataFrame's settings are checked, before it is staged.
_IN_MEMORY = "in-memory DataFrame"


def _stage_frame(frame: pd.DataFrame, data_dir: str | None) -> str:
    """Flow parameters must be JSON (the UI shows them), so a DataFrame travels as a file."""
    from tunelab.atomic import write_bytes_atomic
    from tunelab.paths import data_dir as resolve_data_dir
    from tunelab.provenance import fingerprint

    path = resolve_data_dir(data_dir) / "inputs" / f"{fingerprint(frame)}.parquet"
    if not path.exists():
        write_bytes_atomic(path, frame.to_parquet())
    return str(path)


def source_of(data: object) -> str:
    """A path or URL as the text a run configuration records; anything else is refused."""
    if isinstance(data, (str, Path)):
        return str(data)
    raise DataValidationError(
        f"Data must be a file path, a URL or a pandas DataFrame, not {type(data).__name__}"
    )


def run_training(
    config: RunConfig,
    *,
    orchestrate: bool = True,
    started: float | None = None,
    frame: pd.DataFrame | None = None,
) -> TrainingResult:
    """Validates the data once, before any server starts, then runs the procedure.

    ``started`` is when the user's call began: the time budget counts from there.
    """
    from tunelab.prepare import prepare_data

    started = started or time.time()
    # Handed off, not kept: the engine frees its copy of the rows once it has split them.
    tokens = (PRELOADED.set(Handoff(prepare_data(config, frame=frame))), CALL_STARTED.set(started))
    try:
        with clock_scope():
            if orchestrate:
                from tunelab.orchestration import orchestrator

                return orchestrator("train")(config)
            from tunelab.engine import train as train_in_process

            return train_in_process(config, started=started).result
    finally:
        PRELOADED.reset(tokens[0])
        CALL_STARTED.reset(tokens[1])


def train(
    data: str | Path | pd.DataFrame, target: str, *, orchestrate: bool = True, **settings: Any
) -> TrainingResult:
    """Searches, estimates and registers the best pipeline for ``target``.

    ``settings`` are :class:`~tunelab.config.RunConfig` fields (``time_budget``, ``max_evals``,
    ``families``, ...). ``orchestrate=False`` runs in this process without Prefect (nothing
    of Prefect is imported); the default runs it as a ``tunelab-train`` Prefect flow run.
    """
    started = time.time()
    if isinstance(data, pd.DataFrame):
        RunConfig.create(data=_IN_MEMORY, target=target, **settings)  # settings fail first
        from tunelab.data import split_features_target

        split_features_target(data, target)  # and bad data before anything is written
        with early_server(orchestrate):
            source = _stage_frame(data, settings.get("data_dir"))
            config = RunConfig.create(data=source, target=target, **settings)
            return run_training(config, orchestrate=orchestrate, started=started, frame=data)
    config = RunConfig.create(data=source_of(data), target=target, **settings)
    with early_server(orchestrate):
        return run_training(config, orchestrate=orchestrate, started=started)


@contextlib.contextmanager
def early_server(orchestrate: bool) -> Iterator[None]:
    """Prefect's local server starts (or is found) now, as the CLI does it: it boots while
    the data loads, instead of Prefect's own temporary server after it (4-15 s per call).
    The start pauses the garbage collector while libraries load; the flow run resumes it,
    and a call that fails before turns it back on here."""
    collecting = gc.isenabled()
    if orchestrate:
        from tunelab.orchestration import orchestrator

        orchestrator("warm-up")()
    try:
        yield
    finally:
        if collecting and not gc.isenabled():
            gc.enable()


def load_model(
    name: str,
    version: int | str = "latest",
    data_dir: str | None = None,
    store: str | None = None,
) -> RegisteredModel:
    """A registered model (``.model`` is the fitted pipeline), verified against its hash.

    ``store`` is a model store URL (default ``$TUNELAB_STORE``, else the data dir's registry).
    """
    from tunelab.store import open_store

    return open_store(data_dir, store).load(name, version)


def predict(
    name: str,
    data: pd.DataFrame,
    version: int | str = "latest",
    data_dir: str | None = None,
    extra_columns: ExtraColumns = "error",
    store: str | None = None,
) -> pd.DataFrame:
    """In-process scoring without a flow run, for notebooks and services (one pass through the
    model, 100,000 rows at a time)."""
    from tunelab.batch import predict_in_memory
    from tunelab.card_schema import require_schema

    entry = load_model(name, version, data_dir, store)
    require_schema(entry.name, entry.version, entry.metadata)
    return predict_in_memory(entry, data, extra_columns)

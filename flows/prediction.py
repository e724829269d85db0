"""Batch prediction: a registered model (by name and version or alias) scores a new table."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from tunelab.batch import BatchPrediction, predict_source
from tunelab.card_schema import require_schema
from tunelab.flows.retries import retry_unless_user_error
from tunelab.models.kinds import is_classification
from tunelab.names import artifact_key, check_model_name
from tunelab.paths import data_dir as resolve_data_dir
from tunelab.sources import mask_url
from tunelab.store import RegisteredModel, open_store
from tunelab.tables import check_output_path, markdown_table


@task(
    name="load-registered-model",
    cache_policy=NO_CACHE,
    retries=2,
    retry_delay_seconds=1,
    retry_condition_fn=retry_unless_user_error,
)
def load_registered_model(
    data_dir: str | None, name: str, version: str, store: str = ""
) -> RegisteredModel:
    entry = open_store(data_dir, store or None).load(name, version)
    require_schema(entry.name, entry.version, entry.metadata)
    get_run_logger().info("Loaded %s v%d (%s)", entry.name, entry.version, entry.metadata["task"])
    return entry


@task(
    name="score-table",
    cache_policy=NO_CACHE,
    retries=2,
    retry_delay_seconds=1,
    retry_condition_fn=retry_unless_user_error,
)
def score_table(
    entry: RegisteredModel,
    data: str,
    output: Path,
    table: str,
    query: str,
    extra_columns: str,
    keep_columns: list[str] | None,
) -> BatchPrediction:
    """Reads, scores and writes in chunks (one task: the chunks never all exist at once)."""
    return predict_source(
        entry,
        data,
        output,
        table=table or None,
        query=query or None,
        extra_columns=extra_columns,  # type: ignore[arg-type]
        keep_columns=keep_columns,
    )


def default_output_path(root: Path, entry: RegisteredModel) -> Path:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%f")
    return root / "predictions" / f"{entry.name}-v{entry.version}-{stamp}.csv"


@flow(name="tunelab-predict", log_prints=True)
def predict_flow(
    model_name: str,
    data: str,
    version: str = "latest",
    output: str = "",
    extra_columns: Literal["error", "ignore"] = "error",
    data_dir: str = "",
    table: str = "",
    query: str = "",
    keep_columns: list[str] | None = None,
    store: str = "",
) -> dict[str, Any]:
    """Scores `data` with a registered model and writes predictions (and class probabilities).

    Args:
        model_name: Registered model name.
        data: CSV or Parquet file or URL (s3://, https://, ...), or a database URL with table
            or query; it must have the columns the model was trained on.
        version: Version number, an alias such as "production", or "latest".
        output: Where to write predictions (.csv or .parquet); default under the data dir.
        extra_columns: "error" rejects columns unknown to the model; "ignore" drops them.
        data_dir: Folder holding the registry; default $TUNELAB_HOME, else ./tunelab-data.
        table: Table to read when data is a database URL.
        query: SQL query to read when data is a database URL.
        keep_columns: Input columns copied into the output next to the predictions; default
            the identifier columns the model does not use (e.g. customer_id).
        store: Model store URL (e.g. s3://bucket/registry); default $TUNELAB_STORE, else
            the data dir's registry.
    """
    check_model_name(model_name)
    root = resolve_data_dir(data_dir or None)
    entry = load_registered_model(data_dir or None, model_name, version, store)
    path = check_output_path(Path(output) if output else default_output_path(root, entry))
    scored = score_table(entry, data, path, table, query, extra_columns, keep_columns)
    key = artifact_key(entry.name)
    if not is_classification(entry.metadata["task"]):
        overview = scored.predictions.describe().rename("value").reset_index()
    else:
        overview = scored.predictions.value_counts().head(20).reset_index()
    create_markdown_artifact(
        key=f"{key}-predictions",
        markdown=(
            f"# Batch prediction with {entry.name} v{entry.version}\n\n"
            f"{scored.rows} rows from `{mask_url(data)}` written to `{path}`.\n\n"
            + markdown_table(overview)
        ),
    )
    get_run_logger().info("Wrote %d predictions to %s", scored.rows, path)
    return {
        "name": entry.name,
        "version": entry.version,
        "rows": scored.rows,
        "output": str(path),
    }


def run_predict_flow(**parameters: Any) -> dict[str, Any]:
    """Entry point the CLI uses (through the ``tunelab.orchestrators`` entry points)."""
    from tunelab.flows.prefect_setup import prepare_cli_session

    prepare_cli_session()
    return predict_flow(**parameters)

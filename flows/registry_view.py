"""Registry flows for the Prefect UI: list registered models, promote a version to an alias."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact

from tunelab.promote import promote
from tunelab.store import open_store
from tunelab.tracking import tracking_uri_from


@flow(name="tunelab-registry-report")
def registry_report_flow(data_dir: str = "", store: str = "") -> list[dict[str, Any]]:
    """Publishes every registered model version with its metrics as a table artifact.

    Args:
        data_dir: Folder holding the registry; default $TUNELAB_HOME, else ./tunelab-data.
        store: Model store URL (e.g. s3://bucket/registry); default $TUNELAB_STORE, else
            the data dir's registry.
    """
    summary = open_store(data_dir or None, store or None).summary()
    rows = summary.astype(object).where(summary.notna(), None).to_dict(orient="records")
    create_table_artifact(key="tunelab-registry", table=rows, description="Registered models")
    get_run_logger().info("%d registered model versions", len(rows))
    return rows


@flow(name="tunelab-promote")
def promote_flow(
    model_name: str,
    version: str,
    alias: str = "production",
    data_dir: str = "",
    store: str = "",
    mlflow: str = "",
) -> int:
    """Points an alias (default "production") at a registered version, and in MLflow too.

    Args:
        model_name: Registered model name.
        version: Version number, another alias, or "latest".
        alias: Alias to set, e.g. "production" or "staging".
        data_dir: Folder holding the registry; default $TUNELAB_HOME, else ./tunelab-data.
        store: Model store URL (e.g. s3://bucket/registry); default $TUNELAB_STORE, else
            the data dir's registry.
        mlflow: MLflow tracking URI to move the alias in too; default $MLFLOW_TRACKING_URI.
    """
    done = promote(
        open_store(data_dir or None, store or None),
        model_name,
        version,
        alias,
        tracking_uri_from(mlflow or None),
    )
    log = get_run_logger()
    log.info("%s: alias %r -> v%d", done.name, done.alias, done.version)
    if done.mlflow_version is not None:
        log.info("MLflow %s: alias %r -> version %s", done.name, done.alias, done.mlflow_version)
    return done.version

"""Registry flows for the Prefect UI: list registered models, promote a version to an alias."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact

from tunelab.names import check_alias, check_model_name
from tunelab.store import open_store


@flow(name="tunelab-registry-report")
def registry_report_flow(data_dir: str = "") -> list[dict[str, Any]]:
    """Publishes every registered model version with its metrics as a table artifact.

    Args:
        data_dir: Folder holding the registry; default $TUNELAB_HOME, else ./tunelab-data.
    """
    summary = open_store(data_dir or None).summary()
    rows = summary.astype(object).where(summary.notna(), None).to_dict(orient="records")
    create_table_artifact(key="tunelab-registry", table=rows, description="Registered models")
    get_run_logger().info("%d registered model versions", len(rows))
    return rows


@flow(name="tunelab-promote")
def promote_flow(
    model_name: str, version: str, alias: str = "production", data_dir: str = ""
) -> int:
    """Points an alias (default "production") at a registered version.

    Args:
        model_name: Registered model name.
        version: Version number, another alias, or "latest".
        alias: Alias to set, e.g. "production" or "staging".
        data_dir: Folder holding the registry; default $TUNELAB_HOME, else ./tunelab-data.
    """
    check_model_name(model_name)
    check_alias(alias)
    resolved = open_store(data_dir or None).set_alias(model_name, alias, version)
    get_run_logger().info("%s: alias %r -> v%d", model_name, alias, resolved)
    return resolved

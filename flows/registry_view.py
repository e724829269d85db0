"""Registry flows for the Prefect UI: list registered models, promote a version to an alias."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact

from tunelab.paths import data_dir as resolve_data_dir
from tunelab.registry import ModelRegistry


@flow(name="tunelab-registry-report")
def registry_report_flow(data_dir: str = "") -> list[dict[str, Any]]:
    """Publishes every registered model version with its metrics as a table artifact."""
    summary = ModelRegistry(resolve_data_dir(data_dir or None) / "registry").summary()
    rows = summary.astype(object).where(summary.notna(), None).to_dict(orient="records")
    create_table_artifact(key="tunelab-registry", table=rows, description="Registered models")
    get_run_logger().info("%d registered model versions", len(rows))
    return rows


@flow(name="tunelab-promote")
def promote_flow(
    model_name: str, version: str, alias: str = "production", data_dir: str = ""
) -> int:
    """Points an alias (default "production") at a registered version."""
    registry = ModelRegistry(resolve_data_dir(data_dir or None) / "registry")
    resolved = registry.set_alias(model_name, alias, version)
    get_run_logger().info("%s: alias %r -> v%d", model_name, alias, resolved)
    return resolved

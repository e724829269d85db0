"""Promotion: point an alias at a version, in the store and (optionally) in MLflow.

The one procedure behind ``tunelab models promote``, the ``tunelab-promote`` Prefect flow and
the MLflow mirror. The order makes a failure leave a state that is easy to state:

1. every check that can refuse (name, alias, version, a readable aliases file) runs first;
2. MLflow moves next: if it fails, nothing has changed anywhere;
3. the store moves last: if that fails after MLflow moved, the error says exactly that.
"""

from __future__ import annotations

from dataclasses import dataclass

from tunelab.errors import RegistryError, TunelabError
from tunelab.names import check_alias, check_model_name
from tunelab.store import ModelStore


@dataclass(frozen=True)
class Promotion:
    name: str
    alias: str
    version: int
    #: The MLflow model version the alias now points at, when MLflow was asked too.
    mlflow_version: str | None = None


def promote(
    store: ModelStore,
    name: str,
    version: int | str,
    alias: str = "production",
    tracking_uri: str | None = None,
) -> Promotion:
    """Moves ``alias`` of ``name`` to ``version`` in ``store`` and, given a URI, in MLflow."""
    check_model_name(name)
    check_alias(alias)
    resolved = store.resolve_version(name, version)
    store.aliases(name)  # a corrupt aliases file refuses before MLflow is touched
    mlflow_version = None
    if tracking_uri:
        from tunelab.tracking import set_alias as set_mlflow_alias

        mlflow_version = set_mlflow_alias(tracking_uri, name, alias, resolved)
    try:
        store.set_alias(name, alias, resolved)
    except TunelabError as exc:
        if mlflow_version is None:
            raise
        raise RegistryError(
            f"MLflow alias {alias!r} of {name} now points at MLflow version {mlflow_version} "
            f"(tunelab v{resolved}), but the local alias did not move: {exc}; "
            "fix that and promote again"
        ) from None
    return Promotion(name, alias, resolved, mlflow_version)

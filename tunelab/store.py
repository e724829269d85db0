"""Where registered models live, as an interface: flows, CLI and API depend on this only.

Today the one implementation is the file registry (:class:`tunelab.registry.ModelRegistry`);
another store (MLflow's registry, object storage) is one class with these methods plus a
branch in :func:`open_store`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import pandas as pd

    from tunelab.registry import RegisteredModel


class ModelStore(Protocol):
    def register(
        self, name: str, model: Any, metadata: dict[str, Any], leaderboard: pd.DataFrame
    ) -> RegisteredModel: ...

    def load(self, name: str, version: int | str | None = "latest") -> RegisteredModel: ...

    def metadata(self, name: str, version: int | str | None = "latest") -> RegisteredModel: ...

    def set_alias(self, name: str, alias: str, version: int | str) -> int: ...

    def attach(self, name: str, version: int, filename: str, payload: bytes) -> Any: ...

    def summary(self) -> pd.DataFrame: ...


def open_store(data_dir: str | None = None) -> ModelStore:
    """The store for a data dir (``--data-dir``, ``$TUNELAB_HOME`` or ``./tunelab-data``)."""
    from tunelab.paths import data_dir as resolve_data_dir
    from tunelab.registry import ModelRegistry

    return ModelRegistry(resolve_data_dir(data_dir) / "registry")

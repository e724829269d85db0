"""Where registered models live, as an interface: flows, CLI and API depend on this only.

The interface speaks in names, versions, aliases, bytes, URLs and DataFrames, never in
paths, so a caller cannot depend on how one store lays out its files. Two stores implement
it: the file registry (:class:`tunelab.registry.ModelRegistry`, the default, under the data
dir) and an fsspec URL store (:class:`tunelab.fsspec_store.FsspecStore`: ``s3://``,
``gs://``, ``file://``, ``memory://``...). Another store is one module plus one line in
:data:`STORES`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from tunelab.errors import ParameterError

if TYPE_CHECKING:
    import pandas as pd

#: Selects the store for every command (``--store`` wins): a URL, or empty for the data dir.
STORE_ENV = "TUNELAB_STORE"
#: The HTML report attached to each version.
REPORT_FILE = "report.html"


@dataclass
class RegisteredModel:
    """One registered version: its card (``metadata``) and, once loaded, the fitted model.

    ``location`` is where the version lives, as text to show users (a folder path for the
    file registry, a URL for the URL store); nothing should build file names from it.
    """

    name: str
    version: int
    location: str
    metadata: dict[str, Any]
    model: Any = None


class ModelStore(Protocol):
    """What tunelab needs from a model store; each method's errors are ``TunelabError``s."""

    def register(
        self, name: str, model: Any, metadata: dict[str, Any], leaderboard: pd.DataFrame
    ) -> RegisteredModel: ...

    def load(self, name: str, version: int | str | None = "latest") -> RegisteredModel:
        """The verified model (checksum and type allow-list) with its card."""
        ...

    def metadata(self, name: str, version: int | str | None = "latest") -> RegisteredModel:
        """The version's validated card, without loading the model."""
        ...

    def names(self) -> list[str]: ...

    def versions(self, name: str) -> list[int]: ...

    def aliases(self, name: str) -> dict[str, int]: ...

    def resolve_version(self, name: str, version: int | str | None = "latest") -> int: ...

    def set_alias(self, name: str, alias: str, version: int | str) -> int:
        """Points ``alias`` at a version (safe against concurrent promotes of other aliases)."""
        ...

    def leaderboard(self, name: str, version: int | str | None = "latest") -> pd.DataFrame: ...

    def attach(self, name: str, version: int, filename: str, payload: bytes) -> str:
        """Stores a derived file (the report) with a version; returns where it went."""
        ...

    def attachment(self, name: str, version: int, filename: str) -> bytes: ...

    def report_url(self, name: str, version: int | str | None = "latest") -> str:
        """Where the version's HTML report is (a path or URL to open)."""
        ...

    def summary(self) -> pd.DataFrame:
        """One row per version; unreadable ones carry a ``problem`` instead of stopping it."""
        ...


def report_location(version_location: str) -> str:
    """The report's location inside a version's location (both stores nest files that way)."""
    return f"{version_location.rstrip('/')}/{REPORT_FILE}"


def _file_store(url: str, data_dir: str | None) -> ModelStore:
    from tunelab.paths import data_dir as resolve_data_dir
    from tunelab.registry import ModelRegistry

    return ModelRegistry(resolve_data_dir(data_dir) / "registry")


def _url_store(url: str, data_dir: str | None) -> ModelStore:
    from tunelab.fsspec_store import FsspecStore

    return FsspecStore(url)


#: How a store URL picks its implementation: "" (no URL) is the file registry in the data dir,
#: anything with a scheme goes through fsspec. A new store is one line here.
STORES: dict[str, Callable[[str, str | None], ModelStore]] = {
    "": _file_store,
    "url": _url_store,
}


def store_kind(url: str) -> str:
    if not url:
        return ""
    if "://" not in url:
        raise ParameterError(
            f"Invalid store {url!r}: give a URL such as s3://bucket/registry or "
            "file:///srv/registry (or leave it empty for the data dir's registry)"
        )
    return "url"


def open_store(data_dir: str | None = None, url: str | None = None) -> ModelStore:
    """The store for ``url`` (``--store``), else ``$TUNELAB_STORE``, else the file registry
    of the data dir (``--data-dir``, ``$TUNELAB_HOME`` or ``./tunelab-data``)."""
    chosen = (url or os.environ.get(STORE_ENV) or "").strip()
    return STORES[store_kind(chosen)](chosen, data_dir)

"""A model store at any fsspec URL: ``s3://bucket/registry``, ``gs://...``, ``file:///srv/reg``.

Layout as in the file registry (``<url>/<name>/v<N>/model.skops, metadata.json, ...``) with
one object per alias (``<url>/<name>/aliases/<alias>.json``): object stores have no locks or
renames, but a single object is replaced whole, so concurrent promotes of different aliases
never lose one. A version becomes visible when its ``metadata.json`` (written last) exists,
so readers never see half a version. Version numbers are not claimed atomically: two runs
registering the *same name* at the same moment should use the file registry.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import uuid
from typing import Any

import pandas as pd

from tunelab.errors import RegistryError, StorageError, TunelabError
from tunelab.names import check_alias, check_model_name
from tunelab.sources import mask_url
from tunelab.store import RegisteredModel
from tunelab.store_base import (
    LEADERBOARD_FILE,
    METADATA_FILE,
    MODEL_FILE,
    VersionedStore,
    check_aliases,
    parse_json,
    serialise_model,
    stamp_card,
)

ALIAS_FOLDER = "aliases"
_VERSION_DIR = re.compile(r"v(\d+)")
_ALIAS_OBJECT = re.compile(r"(.+)\.json")


class FsspecStore(VersionedStore):
    """Registered models under an fsspec URL (credentials from the usual environment)."""

    def __init__(self, url: str, storage_options: dict[str, Any] | None = None):
        import fsspec

        self.url = url.rstrip("/")
        try:
            self.fs, self.root = fsspec.core.url_to_fs(self.url, **(storage_options or {}))
        except (ImportError, ValueError) as exc:
            raise RegistryError(f"Cannot open the store {mask_url(url)}: {exc}") from None
        self.root = self.root.rstrip("/")

    # --- where things are ----------------------------------------------------------------------
    def _key(self, *parts: str) -> str:
        return "/".join([self.root, *parts])

    def _version_key(self, name: str, version: int, filename: str = "") -> str:
        parts = [check_model_name(name), f"v{int(version)}"] + ([filename] if filename else [])
        return self._key(*parts)

    def location(self, name: str, version: int, filename: str = "") -> str:
        tail = f"/{filename}" if filename else ""
        return mask_url(f"{self.url}/{check_model_name(name)}/v{int(version)}{tail}")

    # --- bytes ---------------------------------------------------------------------------------
    def _read(self, key: str, shown: str) -> bytes:
        try:
            with self.fs.open(key, "rb") as handle:
                return handle.read()
        except FileNotFoundError:
            raise RegistryError(f"{shown} is missing") from None
        except Exception as exc:
            raise StorageError(
                f"Could not read {shown}: {type(exc).__name__}: {exc}", retryable=True
            ) from None

    def _write(self, key: str, payload: bytes, shown: str, whole: bool = False) -> None:
        """Writes ``key``; ``whole`` writes a temporary object and moves it into place, so a
        reader never sees the file half-written (a rename on disks, a copy on object stores,
        where it costs a second upload: used for the small JSON files only)."""
        target = f"{key}.{uuid.uuid4().hex[:8]}.tmp" if whole else key
        try:
            self.fs.makedirs(key.rsplit("/", 1)[0], exist_ok=True)  # object stores: a no-op
            with self.fs.open(target, "wb") as handle:
                handle.write(payload)
            if whole:
                self.fs.mv(target, key)
        except Exception as exc:
            if whole:
                with contextlib.suppress(Exception):
                    self.fs.rm(target)
            raise StorageError(
                f"Could not write {shown}: {type(exc).__name__}: {exc}", retryable=True
            ) from None

    def _children(self, key: str) -> list[str]:
        try:
            return [str(p).rstrip("/").rsplit("/", 1)[-1] for p in self.fs.ls(key, detail=False)]
        except FileNotFoundError:
            return []
        except Exception as exc:
            raise StorageError(f"Could not list {mask_url(self.url)}: {exc}") from None

    def read_file(self, name: str, version: int, filename: str) -> bytes:
        shown = f"The file {self.location(name, version, filename)!r}"
        return self._read(self._version_key(name, version, filename), shown)

    def write_file(self, name: str, version: int, filename: str, payload: bytes) -> str:
        shown = repr(self.location(name, version, filename))
        whole = filename.endswith(".json")
        self._write(self._version_key(name, version, filename), payload, shown, whole)
        return self.location(name, version, filename)

    # --- listing -------------------------------------------------------------------------------
    def names(self) -> list[str]:
        found = []
        for child in self._children(self.root):
            try:
                if self.versions(child):
                    found.append(child)
            except TunelabError:
                continue
        return sorted(found)

    def versions(self, name: str) -> list[int]:
        numbers = []
        for child in self._children(self._key(check_model_name(name))):
            match = _VERSION_DIR.fullmatch(child)
            number = int(match.group(1)) if match else 0
            if number and self.fs.exists(self._version_key(name, number, METADATA_FILE)):
                numbers.append(number)
        return sorted(numbers)

    def aliases(self, name: str) -> dict[str, int]:
        folder = self._key(check_model_name(name), ALIAS_FOLDER)
        shown = f"{mask_url(self.url)}/{name}/{ALIAS_FOLDER}"
        found: dict[str, Any] = {}
        for child in self._children(folder):
            if child.endswith(".tmp"):  # another promote's object, not yet moved into place
                continue
            match = _ALIAS_OBJECT.fullmatch(child)
            key = f"{folder}/{child}"
            found[match.group(1) if match else child] = parse_json(
                self._read(key, repr(f"{shown}/{child}")), "aliases", f"{shown}/{child}"
            )
        return check_aliases(found, shown)

    # --- writing -------------------------------------------------------------------------------
    def set_alias(self, name: str, alias: str, version: int | str) -> int:
        """One object per alias: replaced whole, so concurrent promotes cannot lose one."""
        check_alias(alias)
        resolved = self.resolve_version(name, version)
        self.aliases(name)  # a corrupt alias is reported before anything changes
        key = self._key(name, ALIAS_FOLDER, f"{alias}.json")
        shown = repr(f"{mask_url(self.url)}/{name}")
        self._write(key, json.dumps(resolved).encode(), shown, whole=True)
        return resolved

    def register(
        self, name: str, model: Any, metadata: dict[str, Any], leaderboard: pd.DataFrame
    ) -> RegisteredModel:
        check_model_name(name)
        payload = serialise_model(name, model)
        version = max(self.versions(name) + self._started(name), default=0) + 1
        board = io.BytesIO()
        leaderboard.to_csv(board, index=False)
        self.write_file(name, version, MODEL_FILE, payload)
        self.write_file(name, version, LEADERBOARD_FILE, board.getvalue())
        full = stamp_card(metadata, name, version, payload)
        text = json.dumps(full, indent=2, default=str).encode()
        self.write_file(name, version, METADATA_FILE, text)  # last: the version is now visible
        return RegisteredModel(name, version, self.location(name, version), full, model)

    def _started(self, name: str) -> list[int]:
        """Version folders that exist without metadata (a registration died or is running)."""
        folder = self._key(check_model_name(name))
        return [int(m.group(1)) for c in self._children(folder) if (m := _VERSION_DIR.fullmatch(c))]

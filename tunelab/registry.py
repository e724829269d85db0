"""A file-system model registry: ``<root>/<name>/v<N>/`` with the model, its metadata and trials.

Design choices, each for a failure we refuse to have:

* a version is written in a hidden staging folder and renamed into place, so a reader never
  sees a half-written model; staging folders of killed registrations are removed by the next
  registration of that name;
* version numbers are claimed with ``mkdir`` (atomic, fails if taken), so two runs registering
  the same name at once get distinct versions;
* every name, alias and version reference is validated, and every path is resolved and must
  stay inside the registry root (a symlinked or ``..`` name cannot reach outside it);
* models are stored with skops and loaded only after the file's SHA-256 matches the recorded
  one *and* every type it needs is on an exact allow-list (:mod:`tunelab.model_types`), so a
  tampered file cannot make ``predict`` run code tunelab did not put there;
* a corrupt metadata or aliases file is reported by name; listing skips such a version;
* aliases change under an exclusive lock (``fcntl``), so concurrent promotes of different
  aliases all survive.

What is not about files (version references, card checks, the model's verification) is
shared with the other stores in :mod:`tunelab.store_base`.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from tunelab.atomic import (
    make_dirs,
    make_temp_dir,
    storage_error,
    write_bytes_atomic,
    write_json_atomic,
)
from tunelab.errors import RegistryError, TunelabError
from tunelab.model_types import ALLOWED_MODEL_TYPES
from tunelab.names import check_alias, check_model_name
from tunelab.processes import process_alive
from tunelab.store import RegisteredModel
from tunelab.store_base import (
    ALIASES_FILE,
    LEADERBOARD_FILE,
    METADATA_FILE,
    MODEL_FILE,
    VersionedStore,
    parse_aliases,
    serialise_model,
    stamp_card,
)

STAGING_PREFIX = ".staging-"
LOCK_FILE = ".aliases.lock"
#: How errors call a version's files ("the metadata file '...' is corrupt").
_FILE_KINDS = {MODEL_FILE: "model", METADATA_FILE: "metadata", LEADERBOARD_FILE: "leaderboard"}
_VERSION_DIR = re.compile(r"v(\d+)")
#: A staging folder untouched this long belongs to a dead registration even on another host.
STALE_STAGING_SECONDS = 6 * 3600

__all__ = [
    "ALLOWED_MODEL_TYPES",
    "ModelRegistry",
    "RegisteredModel",
    "sha256_of",
]


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_bytes(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise RegistryError(f"The {what} file {str(path)!r} is missing") from None
    except OSError as exc:
        raise RegistryError(f"Could not read the {what} file {str(path)!r}: {exc}") from None


class ModelRegistry(VersionedStore):
    """The file registry: ``<root>/<name>/v<N>/`` folders on a local or mounted disk."""

    def __init__(self, root: str | os.PathLike[str]):
        self.root = Path(root)

    # --- paths ---------------------------------------------------------------------------
    def _inside(self, path: Path) -> Path:
        """``path`` if it resolves (symlinks included) to somewhere under the registry root."""
        root = self.root.resolve()
        resolved = path.resolve()
        if resolved != root and root not in resolved.parents:
            raise RegistryError(
                f"Refusing to use {str(path)!r}: it resolves to {str(resolved)!r}, "
                f"outside the registry {str(root)!r}"
            )
        return path

    def _model_dir(self, name: str) -> Path:
        return self._inside(self.root / check_model_name(name))

    def _version_dir(self, name: str, version: int) -> Path:
        return self._inside(self._model_dir(name) / f"v{int(version)}")

    def location(self, name: str, version: int, filename: str = "") -> str:
        folder = self._version_dir(name, version)
        return str(folder / filename) if filename else str(folder)

    def read_file(self, name: str, version: int, filename: str) -> bytes:
        path = self._inside(self._version_dir(name, version) / filename)
        return _read_bytes(path, _FILE_KINDS.get(filename, filename))

    def write_file(self, name: str, version: int, filename: str, payload: bytes) -> str:
        path = self._version_dir(name, version) / filename
        write_bytes_atomic(path, payload)
        return str(path)

    # --- writing -------------------------------------------------------------------------
    def register(
        self,
        name: str,
        model: Any,
        metadata: dict[str, Any],
        leaderboard: pd.DataFrame,
    ) -> RegisteredModel:
        model_dir = make_dirs(self._model_dir(name))
        self._remove_stale_staging(model_dir)
        staging = make_temp_dir(model_dir, _staging_prefix())
        try:
            payload = serialise_model(name, model)
            try:
                (staging / MODEL_FILE).write_bytes(payload)
                leaderboard.to_csv(staging / LEADERBOARD_FILE, index=False)
            except OSError as exc:
                raise storage_error("write the model to", staging, exc) from None
            version = self._claim_version(model_dir)
            claim = model_dir / ".claims" / f"v{version}"
            full = stamp_card(metadata, name, version, payload)
            write_json_atomic(staging / METADATA_FILE, full)
            final = model_dir / f"v{version}"
            try:
                os.rename(staging, final)
            except OSError as exc:
                raise storage_error("move the new version into", final, exc) from None
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            # A failed registration gives its number back; no folder of that number exists.
            if "claim" in locals() and not (model_dir / f"v{version}").exists():
                claim.rmdir()
            raise
        return RegisteredModel(name, version, str(final), full, model)

    def _claim_version(self, model_dir: Path) -> int:
        claims = make_dirs(model_dir / ".claims")
        try:
            version = max(self._versions_in(model_dir) + self._claimed(claims), default=0) + 1
            while True:
                try:
                    (claims / f"v{version}").mkdir()
                    return version
                except FileExistsError:
                    version += 1
        except OSError as exc:
            raise storage_error("claim a version number in", claims, exc) from None

    @staticmethod
    def _remove_stale_staging(model_dir: Path) -> None:
        """Removes what killed registrations left behind, never a live one's folder."""
        try:
            leftovers = [p for p in model_dir.iterdir() if p.name.startswith(STAGING_PREFIX)]
        except OSError:
            return
        for path in leftovers:
            if _staging_is_stale(path):
                shutil.rmtree(path, ignore_errors=True)

    def set_alias(self, name: str, alias: str, version: int | str) -> int:
        """Points ``alias`` (e.g. ``production``) at a version; later loads may use the alias.

        The read-change-write of ``aliases.json`` holds an exclusive lock, so promotes of
        different aliases at the same time (processes or hosts sharing the folder through a
        file system with working locks) all land.
        """
        check_alias(alias)
        resolved = self.resolve_version(name, version)
        with self._aliases_locked(name):
            aliases = self.aliases(name)
            aliases[alias] = resolved
            write_json_atomic(self._model_dir(name) / ALIASES_FILE, aliases)
        return resolved

    @contextlib.contextmanager
    def _aliases_locked(self, name: str) -> Iterator[None]:
        path = self._inside(self._model_dir(name) / LOCK_FILE)
        try:
            handle = path.open("a")
        except OSError as exc:
            raise storage_error("lock the aliases of", path.parent, exc) from None
        with handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    # --- reading -------------------------------------------------------------------------
    @staticmethod
    def _versions_in(model_dir: Path) -> list[int]:
        if not model_dir.is_dir():
            return []
        return sorted(
            int(m.group(1))
            for entry in model_dir.iterdir()
            if (m := _VERSION_DIR.fullmatch(entry.name))
            and not entry.is_symlink()
            and (entry / METADATA_FILE).is_file()
        )

    @staticmethod
    def _claimed(claims: Path) -> list[int]:
        return [int(m.group(1)) for e in claims.iterdir() if (m := _VERSION_DIR.fullmatch(e.name))]

    def names(self) -> list[str]:
        """Registered names; folders that are not valid names or point outside are ignored."""
        if not self.root.is_dir():
            return []
        found = []
        for path in self.root.iterdir():
            try:
                model_dir = self._model_dir(path.name)
            except TunelabError:
                continue
            if model_dir.is_dir() and self._versions_in(model_dir):
                found.append(path.name)
        return sorted(found)

    def versions(self, name: str) -> list[int]:
        return self._versions_in(self._model_dir(name))

    def aliases(self, name: str) -> dict[str, int]:
        path = self._inside(self._model_dir(name) / ALIASES_FILE)
        if not path.exists():
            return {}
        return parse_aliases(_read_bytes(path, "aliases"), str(path))


def _staging_prefix() -> str:
    return f"{STAGING_PREFIX}{socket.gethostname()}-{os.getpid()}-"


def _staging_is_stale(path: Path) -> bool:
    """Stale if its process (on this host) is gone, or if nobody touched it for hours."""
    try:
        age = time.time() - path.stat().st_mtime
    except OSError:
        return False
    if age > STALE_STAGING_SECONDS:
        return True
    host, pid = _staging_owner(path.name)
    if host != socket.gethostname() or pid is None:
        return False
    return not process_alive(pid)


def _staging_owner(folder: str) -> tuple[str | None, int | None]:
    rest = folder[len(STAGING_PREFIX) :]
    head, _, _random = rest.rpartition("-")
    host, _, pid = head.rpartition("-")
    return (host or None, int(pid) if pid.isdigit() else None)

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
* a corrupt metadata or aliases file is reported by name; listing skips such a version.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import socket
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import skops.io as sio

from tunelab.atomic import (
    make_dirs,
    make_temp_dir,
    storage_error,
    write_bytes_atomic,
    write_json_atomic,
)
from tunelab.errors import ParameterError, RegistryCorruptError, RegistryError, TunelabError
from tunelab.lineage import lineage_columns
from tunelab.model_types import ALLOWED_MODEL_TYPES, unexpected_types
from tunelab.names import check_alias, check_model_name

MODEL_FILE = "model.skops"
METADATA_FILE = "metadata.json"
LEADERBOARD_FILE = "leaderboard.csv"
ALIASES_FILE = "aliases.json"
STAGING_PREFIX = ".staging-"
_VERSION_DIR = re.compile(r"v(\d+)")
_VERSION_REF = re.compile(r"v?(\d+)")
_SHA256 = re.compile(r"[0-9a-f]{64}")
#: A staging folder untouched this long belongs to a dead registration even on another host.
STALE_STAGING_SECONDS = 6 * 3600

#: Kept for code that imports it; the rule lives in :mod:`tunelab.names`.
check_name = check_model_name

__all__ = [
    "ALLOWED_MODEL_TYPES",
    "ModelRegistry",
    "RegisteredModel",
    "check_name",
    "new_run_id",
    "sha256_of",
]


@dataclass
class RegisteredModel:
    name: str
    version: int
    path: Path
    metadata: dict[str, Any]
    model: Any = None

    def leaderboard(self) -> pd.DataFrame:
        return pd.read_csv(self.path / LEADERBOARD_FILE)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise RegistryCorruptError(
            f"The {what} file {str(path)!r} is corrupt ({exc}); restore it or delete it"
        ) from None
    except OSError as exc:
        raise RegistryError(f"Could not read the {what} file {str(path)!r}: {exc}") from None


class ModelRegistry:
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

    # --- writing -------------------------------------------------------------------------
    def attach(self, name: str, version: int, filename: str, payload: bytes) -> Path:
        """Adds a derived file (the run's ``report.html``) to a registered version.

        The model and its metadata are never replaced this way: they are what the SHA-256
        and the version number vouch for.
        """
        if filename in (MODEL_FILE, METADATA_FILE) or not re.fullmatch(
            r"[A-Za-z0-9_][A-Za-z0-9_.-]*", filename
        ):
            raise RegistryError(f"Cannot attach {filename!r} to {name} v{version}")
        path = self._version_dir(name, version) / filename
        if not path.parent.is_dir():
            raise RegistryError(f"No registered version {name} v{version} to attach to")
        write_bytes_atomic(path, payload)
        return path

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
            try:
                payload = sio.dumps(model)
            except Exception as exc:
                raise RegistryError(f"Could not serialise the model for {name!r}: {exc}") from None
            unexpected = unexpected_types(sio.get_untrusted_types(data=payload))
            if unexpected:
                raise RegistryError(
                    f"Refusing to register {name!r}: the model contains types "
                    f"{unexpected} that are not in tunelab.model_types.ALLOWED_MODEL_TYPES, "
                    "so it could never be loaded; add them there if they are tunelab's own"
                )
            try:
                (staging / MODEL_FILE).write_bytes(payload)
                leaderboard.to_csv(staging / LEADERBOARD_FILE, index=False)
            except OSError as exc:
                raise storage_error("write the model to", staging, exc) from None
            version = self._claim_version(model_dir)
            claim = model_dir / ".claims" / f"v{version}"
            full = {
                **metadata,
                "name": name,
                "version": version,
                "registered_at": datetime.now(timezone.utc).isoformat(),
                "model_file": MODEL_FILE,
                "model_sha256": hashlib.sha256(payload).hexdigest(),
            }
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
        return RegisteredModel(name, version, final, full, model)

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
        """Points ``alias`` (e.g. ``production``) at a version; later loads may use the alias."""
        check_alias(alias)
        resolved = self.resolve_version(name, version)
        aliases = self.aliases(name)
        aliases[alias] = resolved
        write_json_atomic(self._model_dir(name) / ALIASES_FILE, aliases)
        return resolved

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
        data = _read_json(path, "aliases")
        valid = isinstance(data, dict) and all(
            isinstance(k, str) and _is_alias(k) and type(v) is int and v > 0
            for k, v in data.items()
        )
        if not valid:
            raise RegistryCorruptError(
                f"The aliases file {str(path)!r} is corrupt (expected {{alias: version number}}); "
                "fix it, or delete it and promote again"
            )
        return data

    def resolve_version(self, name: str, version: int | str | None = "latest") -> int:
        versions = self.versions(name)
        if not versions:
            known = ", ".join(self.names()) or "none"
            raise RegistryError(f"No registered model named {name!r} (registered: {known})")
        if version is None or version in ("", "latest"):
            return versions[-1]
        number = _version_number(version)
        if number is None:
            aliases = self.aliases(name)
            if version not in aliases:
                raise RegistryError(f"Model {name!r} has no alias {version!r}")
            number = aliases[str(version)]
        if number not in versions:
            raise RegistryError(
                f"Model {name!r} has no version {number} "
                f"(versions: {', '.join(map(str, versions))})"
            )
        return number

    def metadata(self, name: str, version: int | str | None = "latest") -> RegisteredModel:
        number = self.resolve_version(name, version)
        path = self._version_dir(name, number)
        file = self._inside(path / METADATA_FILE)
        data = _read_json(file, "metadata")
        if not isinstance(data, dict) or not _SHA256.fullmatch(str(data.get("model_sha256"))):
            raise RegistryCorruptError(
                f"The metadata file {str(file)!r} is corrupt (no model checksum); "
                "re-register the model"
            )
        return RegisteredModel(name, number, path, data)

    def load(self, name: str, version: int | str | None = "latest") -> RegisteredModel:
        """Loads a model only if it is byte-for-byte what the registry wrote.

        The file name is fixed (never taken from the metadata, which could point anywhere),
        and the type check runs on the file's schema before skops constructs any object.
        """
        entry = self.metadata(name, version)
        label = f"{name} v{entry.version}"
        model_path = self._inside(entry.path / MODEL_FILE)
        if not model_path.is_file():
            raise RegistryError(f"Model file missing for {label}: {model_path}")
        if sha256_of(model_path) != entry.metadata["model_sha256"]:
            raise RegistryError(
                f"Integrity check failed for {label}: the model file's SHA-256 "
                "does not match the registered one; refusing to load it"
            )
        try:
            untrusted = sio.get_untrusted_types(file=model_path)
        except Exception as exc:
            raise RegistryCorruptError(
                f"Refusing to load {label}: {str(model_path)!r} is not a valid skops file ({exc})"
            ) from None
        unexpected = unexpected_types(untrusted)
        if unexpected:
            raise RegistryError(
                f"Refusing to load {label}: it contains unexpected types {unexpected}"
            )
        try:
            entry.model = sio.load(model_path, trusted=untrusted)
        except Exception as exc:
            raise RegistryCorruptError(
                f"Could not load {label} from {str(model_path)!r}: {type(exc).__name__}: {exc}"
            ) from None
        return entry

    def summary(self) -> pd.DataFrame:
        """One row per registered version, for the CLI and the Prefect table artifact.

        A version whose metadata (or a name whose aliases file) cannot be read is listed with
        a ``problem`` column instead of stopping the listing of every other model.
        """
        rows = []
        for name in self.names():
            try:
                aliases, alias_problem = self.aliases(name), ""
            except TunelabError as exc:
                aliases, alias_problem = {}, str(exc)
            for version in self.versions(name):
                row: dict[str, Any] = {"name": name, "version": version}
                try:
                    meta = self.metadata(name, version).metadata
                except TunelabError as exc:
                    rows.append({**row, "problem": str(exc)})
                    continue
                metrics = _as_dict(meta.get("metrics"))
                outer = _as_dict(metrics.get("outer_cv"))
                row.update(
                    aliases=",".join(a for a, v in sorted(aliases.items()) if v == version),
                    task=meta.get("task"),
                    metric=meta.get("metric"),
                    family=_as_dict(meta.get("best")).get("family"),
                    outer_cv_mean=outer.get("mean"),
                    outer_cv_std=outer.get("std"),
                    test_score=metrics.get("test_score"),
                    registered_at=meta.get("registered_at"),
                    **lineage_columns(meta),
                )
                if alias_problem:
                    row["problem"] = alias_problem
                rows.append(row)
        frame = pd.DataFrame(rows)
        if "problem" in frame.columns:
            frame["problem"] = frame["problem"].fillna("")
        return frame


def _as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _is_alias(value: str) -> bool:
    try:
        check_alias(value)
    except ParameterError:
        return False
    return True


def _version_number(version: int | str) -> int | None:
    """The number a version reference means, ``None`` for an alias; refuses anything else."""
    if isinstance(version, bool):
        raise ParameterError(f"Invalid version {version!r}")
    if isinstance(version, int):
        if version < 1:
            raise ParameterError(f"Invalid version {version!r}: versions start at 1")
        return version
    if not isinstance(version, str):
        raise ParameterError(f"Invalid version {version!r}")
    if m := _VERSION_REF.fullmatch(version):
        return int(m.group(1))
    check_alias(version)
    return None


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
    return not _process_alive(pid)


def _staging_owner(folder: str) -> tuple[str | None, int | None]:
    rest = folder[len(STAGING_PREFIX) :]
    head, _, _random = rest.rpartition("-")
    host, _, pid = head.rpartition("-")
    return (host or None, int(pid) if pid.isdigit() else None)


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return True
    return True


def new_run_id() -> str:
    return uuid.uuid4().hex[:12]

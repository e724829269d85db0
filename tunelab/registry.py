"""A file-system model registry: ``<root>/<name>/v<N>/`` with the model, its metadata and trials.

Design choices, each for a failure we refuse to have:

* a version is written in a hidden staging folder and renamed into place, so a reader never
  sees a half-written model;
* version numbers are claimed with ``mkdir`` (atomic, fails if taken), so two runs registering
  the same name at once get distinct versions;
* models are stored with skops (no arbitrary pickle code) and loaded only after the file's
  SHA-256 matches the one recorded at registration.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import skops.io as sio

from tunelab.atomic import write_json_atomic
from tunelab.errors import RegistryError

MODEL_FILE = "model.skops"
METADATA_FILE = "metadata.json"
LEADERBOARD_FILE = "leaderboard.csv"
ALIASES_FILE = "aliases.json"
_VERSION_DIR = re.compile(r"^v(\d+)$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")

#: Type prefixes a registered pipeline may contain beyond what skops trusts by default.
TRUSTED_TYPE_PREFIXES = (
    "pipelines.",
    "sklearn.",
    "numpy.dtype",
    "xgboost.",
    "lightgbm.",
    "collections.OrderedDict",
)


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


def check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise RegistryError(
            f"Invalid model name {name!r}: use letters, digits, '.', '_' or '-' (max 100 chars)"
        )
    return name


class ModelRegistry:
    def __init__(self, root: str | os.PathLike[str]):
        self.root = Path(root)

    # --- writing -------------------------------------------------------------------------
    def register(
        self,
        name: str,
        model: Any,
        metadata: dict[str, Any],
        leaderboard: pd.DataFrame,
    ) -> RegisteredModel:
        model_dir = self.root / check_name(name)
        model_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=model_dir, prefix=".staging-"))
        try:
            sio.dump(model, staging / MODEL_FILE)
            leaderboard.to_csv(staging / LEADERBOARD_FILE, index=False)
            version = self._claim_version(model_dir)
            full = {
                **metadata,
                "name": name,
                "version": version,
                "registered_at": datetime.now(timezone.utc).isoformat(),
                "model_file": MODEL_FILE,
                "model_sha256": sha256_of(staging / MODEL_FILE),
            }
            write_json_atomic(staging / METADATA_FILE, full)
            final = model_dir / f"v{version}"
            os.rename(staging, final)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return RegisteredModel(name, version, final, full, model)

    def _claim_version(self, model_dir: Path) -> int:
        claims = model_dir / ".claims"
        claims.mkdir(exist_ok=True)
        version = max(self._versions_in(model_dir) + self._claimed(claims), default=0) + 1
        while True:
            try:
                (claims / f"v{version}").mkdir()
                return version
            except FileExistsError:
                version += 1

    def set_alias(self, name: str, alias: str, version: int | str) -> int:
        """Points ``alias`` (e.g. ``production``) at a version; later loads may use the alias."""
        if _VERSION_DIR.match(alias) or alias == "latest" or not _NAME.match(alias):
            raise RegistryError(f"Invalid alias {alias!r}")
        resolved = self.resolve_version(name, version)
        aliases = self.aliases(name)
        aliases[alias] = resolved
        write_json_atomic(self.root / name / ALIASES_FILE, aliases)
        return resolved

    # --- reading -------------------------------------------------------------------------
    @staticmethod
    def _versions_in(model_dir: Path) -> list[int]:
        if not model_dir.is_dir():
            return []
        return sorted(
            int(m.group(1))
            for entry in model_dir.iterdir()
            if (m := _VERSION_DIR.match(entry.name)) and (entry / METADATA_FILE).exists()
        )

    @staticmethod
    def _claimed(claims: Path) -> list[int]:
        return [int(m.group(1)) for e in claims.iterdir() if (m := _VERSION_DIR.match(e.name))]

    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and self._versions_in(p))

    def versions(self, name: str) -> list[int]:
        return self._versions_in(self.root / name)

    def aliases(self, name: str) -> dict[str, int]:
        path = self.root / name / ALIASES_FILE
        return json.loads(path.read_text()) if path.exists() else {}

    def resolve_version(self, name: str, version: int | str | None = "latest") -> int:
        versions = self.versions(name)
        if not versions:
            known = ", ".join(self.names()) or "none"
            raise RegistryError(f"No registered model named {name!r} (registered: {known})")
        if version in (None, "", "latest"):
            return versions[-1]
        if isinstance(version, str) and not version.lstrip("v").isdigit():
            aliases = self.aliases(name)
            if version not in aliases:
                raise RegistryError(f"Model {name!r} has no alias {version!r}")
            return aliases[version]
        number = int(str(version).lstrip("v"))
        if number not in versions:
            raise RegistryError(
                f"Model {name!r} has no version {number} "
                f"(versions: {', '.join(map(str, versions))})"
            )
        return number

    def metadata(self, name: str, version: int | str | None = "latest") -> RegisteredModel:
        number = self.resolve_version(name, version)
        path = self.root / name / f"v{number}"
        return RegisteredModel(name, number, path, json.loads((path / METADATA_FILE).read_text()))

    def load(self, name: str, version: int | str | None = "latest") -> RegisteredModel:
        """Loads a model only if it is byte-for-byte what the registry wrote."""
        entry = self.metadata(name, version)
        model_path = entry.path / entry.metadata["model_file"]
        if not model_path.exists():
            raise RegistryError(f"Model file missing for {name} v{entry.version}: {model_path}")
        if sha256_of(model_path) != entry.metadata["model_sha256"]:
            raise RegistryError(
                f"Integrity check failed for {name} v{entry.version}: the model file's SHA-256 "
                "does not match the registered one; refusing to load it"
            )
        untrusted = sio.get_untrusted_types(file=model_path)
        unexpected = [t for t in untrusted if not t.startswith(TRUSTED_TYPE_PREFIXES)]
        if unexpected:
            raise RegistryError(
                f"Refusing to load {name} v{entry.version}: "
                f"it contains unexpected types {unexpected}"
            )
        entry.model = sio.load(model_path, trusted=untrusted)
        return entry

    def summary(self) -> pd.DataFrame:
        """One row per registered version, for the CLI and the Prefect table artifact."""
        rows = []
        for name in self.names():
            aliases = self.aliases(name)
            for version in self.versions(name):
                meta = self.metadata(name, version).metadata
                metrics = meta.get("metrics", {})
                rows.append(
                    {
                        "name": name,
                        "version": version,
                        "aliases": ",".join(a for a, v in sorted(aliases.items()) if v == version),
                        "task": meta.get("task"),
                        "metric": meta.get("metric"),
                        "family": meta.get("best", {}).get("family"),
                        "outer_cv_mean": metrics.get("outer_cv", {}).get("mean"),
                        "outer_cv_std": metrics.get("outer_cv", {}).get("std"),
                        "test_score": metrics.get("test_score"),
                        "registered_at": meta.get("registered_at"),
                    }
                )
        return pd.DataFrame(rows)


def new_run_id() -> str:
    return uuid.uuid4().hex[:12]

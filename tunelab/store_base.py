"""What every model store does the same way, whatever holds its bytes.

A store subclass supplies only where bytes live (list names and versions, read and write a
file of a version, read and change aliases); this class adds the rules that must not differ
between stores: version references, card validation, the model's checksum and type
allow-list before anything is constructed, the listing with a ``problem`` column.
"""

from __future__ import annotations

import hashlib
import io
import re
from abc import ABC, abstractmethod
from datetime import datetime, timezone
from typing import Any

import pandas as pd

from tunelab.card_schema import check_card, parse_json
from tunelab.errors import ParameterError, RegistryCorruptError, RegistryError, TunelabError
from tunelab.legacy_names import modernise
from tunelab.lineage import lineage_columns
from tunelab.model_types import check_model_types
from tunelab.names import check_alias
from tunelab.store import REPORT_FILE, RegisteredModel, report_location

MODEL_FILE = "model.skops"
METADATA_FILE = "metadata.json"
LEADERBOARD_FILE = "leaderboard.csv"
ALIASES_FILE = "aliases.json"
_VERSION_REF = re.compile(r"v?(\d+)")
_ATTACHMENT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


class VersionedStore(ABC):
    """The shared half of a :class:`tunelab.store.ModelStore`."""

    # --- what a store supplies ---------------------------------------------------------------
    @abstractmethod
    def names(self) -> list[str]: ...

    @abstractmethod
    def versions(self, name: str) -> list[int]: ...

    @abstractmethod
    def aliases(self, name: str) -> dict[str, int]: ...

    @abstractmethod
    def read_file(self, name: str, version: int, filename: str) -> bytes:
        """A version's file; :class:`RegistryError` naming it when it is missing."""

    @abstractmethod
    def write_file(self, name: str, version: int, filename: str, payload: bytes) -> str: ...

    @abstractmethod
    def location(self, name: str, version: int, filename: str = "") -> str:
        """Where a version (or one of its files) is, as a path or URL to show."""

    # --- version references ------------------------------------------------------------------
    def resolve_version(self, name: str, version: int | str | None = "latest") -> int:
        versions = self.versions(name)
        if not versions:
            known = ", ".join(self.names()) or "none"
            raise RegistryError(f"No registered model named {name!r} (registered: {known})")
        if version is None or version in ("", "latest"):
            return versions[-1]
        number = version_number(version)
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

    # --- reading -----------------------------------------------------------------------------
    def metadata(self, name: str, version: int | str | None = "latest") -> RegisteredModel:
        number = self.resolve_version(name, version)
        where = self.location(name, number, METADATA_FILE)
        data = parse_json(self.read_file(name, number, METADATA_FILE), "metadata", where)
        return RegisteredModel(name, number, self.location(name, number), check_card(data, where))

    def load(self, name: str, version: int | str | None = "latest") -> RegisteredModel:
        """Loads a model only if it is byte-for-byte what the store wrote.

        The file name is fixed (never taken from the metadata, which could point anywhere),
        and the type check runs on the file's schema before skops constructs any object.
        """
        import skops.io as sio

        entry = self.metadata(name, version)
        label = f"{name} v{entry.version}"
        where = self.location(name, entry.version, MODEL_FILE)
        payload = self.read_file(name, entry.version, MODEL_FILE)
        if hashlib.sha256(payload).hexdigest() != entry.metadata["model_sha256"]:
            raise RegistryError(
                f"Integrity check failed for {label}: the model file's SHA-256 "
                "does not match the registered one; refusing to load it"
            )
        payload = modernise(payload)  # a 0.1.0 file names modules that have moved since
        try:
            untrusted = sio.get_untrusted_types(data=payload)
        except Exception as exc:
            raise RegistryCorruptError(
                f"Refusing to load {label}: {where!r} is not a valid skops file ({exc})"
            ) from None
        trusted = check_model_types(untrusted, f"Refusing to load {label}")
        try:
            entry.model = sio.loads(payload, trusted=trusted)
        except Exception as exc:
            raise RegistryCorruptError(
                f"Could not load {label} from {where!r}: {type(exc).__name__}: {exc}"
            ) from None
        return entry

    def leaderboard(self, name: str, version: int | str | None = "latest") -> pd.DataFrame:
        number = self.resolve_version(name, version)
        return pd.read_csv(io.BytesIO(self.read_file(name, number, LEADERBOARD_FILE)))

    def attachment(self, name: str, version: int, filename: str) -> bytes:
        return self.read_file(name, self.resolve_version(name, version), filename)

    def report_url(self, name: str, version: int | str | None = "latest") -> str:
        entry = self.metadata(name, version)
        try:
            self.read_file(name, entry.version, REPORT_FILE)
        except RegistryError:
            raise RegistryError(
                f"{name} v{entry.version} has no report.html (it was trained with --no-report "
                "or before reports existed); train a new version to get one"
            ) from None
        return report_location(entry.location)

    # --- writing -----------------------------------------------------------------------------
    def attach(self, name: str, version: int, filename: str, payload: bytes) -> str:
        """Adds a derived file (the run's ``report.html``) to a registered version.

        The model and its metadata are never replaced this way: they are what the SHA-256
        and the version number vouch for.
        """
        if filename in (MODEL_FILE, METADATA_FILE) or not _ATTACHMENT.fullmatch(filename):
            raise RegistryError(f"Cannot attach {filename!r} to {name} v{version}")
        if int(version) not in self.versions(name):
            raise RegistryError(f"No registered version {name} v{version} to attach to")
        return self.write_file(name, int(version), filename, payload)

    # --- listing -----------------------------------------------------------------------------
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
                row.update(summary_fields(meta, aliases, version))
                if alias_problem:
                    row["problem"] = alias_problem
                rows.append(row)
        frame = pd.DataFrame(rows)
        if "problem" in frame.columns:
            frame["problem"] = frame["problem"].fillna("")
        return frame


def summary_fields(meta: dict[str, Any], aliases: dict[str, int], version: int) -> dict[str, Any]:
    """The listing's columns for one valid card."""
    metrics = _as_dict(meta.get("metrics"))
    outer = _as_dict(metrics.get("outer_cv"))
    return {
        "aliases": ",".join(a for a, v in sorted(aliases.items()) if v == version),
        "task": meta.get("task"),
        "metric": meta.get("metric"),
        "family": _as_dict(meta.get("best")).get("family"),
        "outer_cv_mean": outer.get("mean"),
        "outer_cv_std": outer.get("std"),
        "test_score": metrics.get("test_score"),
        "registered_at": meta.get("registered_at"),
        **lineage_columns(meta),
    }


def serialise_model(name: str, model: Any) -> bytes:
    """The model as skops bytes, refused now if it could never be loaded again."""
    import skops.io as sio

    try:
        payload = sio.dumps(model)
    except Exception as exc:
        raise RegistryError(f"Could not serialise the model for {name!r}: {exc}") from None
    check_model_types(
        sio.get_untrusted_types(data=payload),
        f"Refusing to register {name!r}",
        hint="so it could never be loaded; add them there if they are tunelab's own",
    )
    return payload


def stamp_card(metadata: dict[str, Any], name: str, version: int, payload: bytes) -> dict:
    """The card as stored: what the run wrote plus the version, time and model checksum."""
    return {
        **metadata,
        "name": name,
        "version": version,
        "registered_at": datetime.now(timezone.utc).isoformat(),
        "model_file": MODEL_FILE,
        "model_sha256": hashlib.sha256(payload).hexdigest(),
    }


def check_aliases(data: Any, where: str) -> dict[str, int]:
    """An aliases mapping as read from a store, or one line naming the file."""
    valid = isinstance(data, dict) and all(
        isinstance(k, str) and is_alias(k) and type(v) is int and v > 0 for k, v in data.items()
    )
    if not valid:
        raise RegistryCorruptError(
            f"The aliases file {where!r} is corrupt (expected {{alias: version number}}); "
            "fix it, or delete it and promote again"
        )
    return data


def parse_aliases(payload: bytes, where: str) -> dict[str, int]:
    return check_aliases(parse_json(payload, "aliases", where), where)


def _as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def is_alias(value: str) -> bool:
    try:
        check_alias(value)
    except ParameterError:
        return False
    return True


def version_number(version: int | str) -> int | None:
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

"""One rule for the names users give models and aliases, checked at every entry point.

Names become folder and file names inside the registry, so the rule is strict (no path
separators, no leading dot, no whitespace or control characters) and uses ``fullmatch``:
``re.match`` with ``$`` would accept a trailing newline.
"""

from __future__ import annotations

import re

from tunelab.errors import ParameterError

NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
#: Version references that cannot be aliases: ``latest`` and ``v3`` / ``3``.
RESERVED_ALIAS = re.compile(r"latest|v?\d+")


def check_model_name(name: object) -> str:
    """Returns ``name`` if it is a safe registry name, else raises :class:`ParameterError`."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name) or ".." in name:
        raise ParameterError(
            f"Invalid model name {name!r}: use 1-100 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return name


def check_alias(alias: object) -> str:
    """Aliases follow the name rule and must not look like a version reference."""
    if not isinstance(alias, str) or not NAME_PATTERN.fullmatch(alias) or ".." in alias:
        raise ParameterError(
            f"Invalid alias {alias!r}: use 1-100 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    if RESERVED_ALIAS.fullmatch(alias):
        raise ParameterError(f"Invalid alias {alias!r}: it looks like a version reference")
    return alias


RUN_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


def check_run_id(run_id: object) -> str:
    """Run ids name a checkpoint folder under ``runs/``, so they follow a path-safe rule too."""
    if not isinstance(run_id, str) or not RUN_ID_PATTERN.fullmatch(run_id):
        raise ParameterError(f"Invalid run id {run_id!r}: use 1-64 letters, digits, '_' or '-'")
    return run_id


def artifact_key(name: str) -> str:
    """A model name as a Prefect artifact key (lowercase letters, digits and dashes only)."""
    return re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-") or "model"

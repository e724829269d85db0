"""Where a version came from: the ``NAME[:VERSION|ALIAS]`` references and what listings show.

Kept free of heavy imports (the run configuration checks references with it before any data
is read) and of registry imports (the registry's listing reads lineage from here).
"""

from __future__ import annotations

import re
from typing import Any

from tunelab.errors import ParameterError
from tunelab.names import check_alias, check_model_name

_VERSION = re.compile(r"v?\d+")


def parse_reference(text: str) -> tuple[str, str]:
    """``churn`` -> (churn, latest); ``churn:3`` / ``churn:v3`` / ``churn:production`` as given.

    Raises :class:`ParameterError` for anything that is not a valid name and version or alias.
    """
    name, _, version = text.strip().partition(":")
    check_model_name(name)
    version = version or "latest"
    if version != "latest" and not _VERSION.fullmatch(version):
        try:
            check_alias(version)
        except ParameterError:
            raise ParameterError(
                f"Invalid version reference {text!r}: use NAME, NAME:VERSION or NAME:ALIAS "
                "(e.g. churn:3 or churn:production)"
            ) from None
    return name, version


def lineage_columns(card: dict[str, Any]) -> dict[str, str]:
    """What ``tunelab models list`` shows about a version's origin.

    ``parent``: the version its search was warm-started from; ``promoted``: the alias a
    champion decision gave it, with the score it beat (empty when no decision moved an alias).
    """
    parent = card.get("parent") or {}
    champion = card.get("champion") or {}
    promoted = ""
    if champion.get("promoted"):
        beaten = champion.get("version")
        promoted = str(champion.get("alias", ""))
        promoted += f" (over v{beaten})" if beaten else " (first)"
    return {
        "parent": f"{parent['name']} v{parent['version']}" if parent else "",
        "promoted": promoted,
    }

"""The structure a stored model card must have before any reader uses it.

A ``metadata.json`` is checked twice on read: as JSON (bounded in depth, so a file nested
100,000 levels deep is refused instead of raising ``RecursionError``) and as a card (typed with
pydantic, so a card whose checksum is right but whose ``schema`` is a string or whose
``task`` is a number is refused here, not with a ``TypeError`` inside prediction). Only the
fields readers rely on are typed; any other field is kept as it is, so cards of every
version so far still read.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tunelab.errors import RegistryCorruptError
from tunelab.models.kinds import TaskKind

#: Deeper than any card tunelab writes (about 6 levels), far below Python's recursion limit.
MAX_JSON_DEPTH = 64


class _Shape(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow")


class StoredColumn(_Shape):
    name: str
    dtype: str
    role: Literal["numeric", "categorical", "high_cardinality", "datetime", "dropped"]
    reason: str = ""


class StoredSchema(_Shape):
    target: str
    task: TaskKind
    columns: list[StoredColumn]
    classes: list[Any] | None = None
    target_dtype: str = ""
    extra: dict[str, Any] = Field(default_factory=dict)


class StoredCard(_Shape):
    """What prediction, listing and showing read from a card."""

    task: TaskKind
    #: Optional only for cards written outside a training run (tests, tools); prediction needs it.
    schema_: StoredSchema | None = Field(default=None, alias="schema")
    model_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    metric: str | None = None
    metrics: dict[str, Any] | None = None
    best: dict[str, Any] | None = None
    registered_at: str | None = None


def json_depth(value: Any) -> int:
    """How deeply lists and objects nest in ``value``, counted without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, depth)
            if depth > MAX_JSON_DEPTH:
                return depth
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return deepest


def parse_json(payload: bytes, what: str, where: str) -> Any:
    """JSON from a registry file, or a :class:`RegistryCorruptError` naming the file."""
    try:
        data = json.loads(payload.decode("utf-8"))
    except RecursionError:
        reason = "nested too deeply"
    except (ValueError, UnicodeDecodeError) as exc:
        reason = str(exc)
    else:
        if json_depth(data) <= MAX_JSON_DEPTH:
            return data
        reason = f"nested deeper than {MAX_JSON_DEPTH} levels"
    raise RegistryCorruptError(
        f"The {what} file {where!r} is corrupt ({reason}); restore it or delete it"
    )


def check_card(data: Any, where: str) -> dict[str, Any]:
    """``data`` if it has a card's structure; else one line naming the first wrong field."""
    if not isinstance(data, dict):
        raise RegistryCorruptError(
            f"The metadata file {where!r} is corrupt (not a JSON object); re-register the model"
        )
    try:
        StoredCard.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "card"
        problem = "no model checksum" if field == "model_sha256" else first["msg"]
        raise RegistryCorruptError(
            f"The metadata file {where!r} is corrupt ({field}: {problem}); re-register the model"
        ) from None
    return data


def require_schema(name: str, version: int, card: dict[str, Any]) -> dict[str, Any]:
    """The card's input schema, which prediction cannot do without (validated on read)."""
    schema = card.get("schema")
    if not isinstance(schema, dict):
        raise RegistryCorruptError(
            f"{name} v{version} has no input schema in its card, so it cannot score rows; "
            "re-register the model"
        )
    return schema

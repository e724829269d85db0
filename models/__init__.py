"""Model families and their hyperparameter search spaces.

``FAMILIES`` is built on first use from :mod:`tunelab.models.catalog`, so importing this
package (for ``tunelab.models.kinds`` or the family names) does not load scikit-learn, XGBoost
or LightGBM.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from tunelab.models.catalog import FAMILY_MODULES, FAMILY_NAMES
from tunelab.models.kinds import TaskKind, is_classification

if TYPE_CHECKING:
    from tunelab.models.base import ModelFamily

_families: dict[str, ModelFamily] | None = None


def _load_families() -> dict[str, ModelFamily]:
    global _families
    if _families is None:
        loaded = {}
        for name, target in FAMILY_MODULES.items():
            module, attribute = target.split(":")
            loaded[name] = getattr(import_module(module), attribute)
        _families = loaded
    return _families


def get_family(name: str) -> ModelFamily:
    try:
        return _load_families()[name]
    except KeyError:
        known = ", ".join(_load_families())
        raise ValueError(f"Unknown model family {name!r}; known families: {known}") from None


def __getattr__(name: str) -> Any:
    if name == "FAMILIES":
        return _load_families()
    if name == "ModelFamily":
        from tunelab.models.base import ModelFamily

        return ModelFamily
    raise AttributeError(name)


__all__ = [
    "FAMILIES",
    "FAMILY_NAMES",
    "ModelFamily",
    "TaskKind",
    "get_family",
    "is_classification",
]

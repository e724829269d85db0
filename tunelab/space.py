"""The conditional search space: feature selection x model family x that family's parameters."""

from __future__ import annotations

from typing import Any

from hyperopt import hp

from models import FAMILIES, get_family
from models.distributions import describe, to_hyperopt_space
from pipelines.feature_selection import SELECTION_METHODS
from tunelab.errors import ParameterError
from tunelab.task import TaskKind


def resolve_families(requested: list[str] | tuple[str, ...] | None, task: TaskKind) -> list[str]:
    names = list(requested) if requested else list(FAMILIES)
    unknown = [n for n in names if n not in FAMILIES]
    if unknown:
        raise ParameterError(
            f"Unknown model families: {', '.join(unknown)}; known: {', '.join(FAMILIES)}"
        )
    supported = [n for n in names if FAMILIES[n].supports(task)]
    if not supported:
        raise ParameterError(f"None of the families {names} supports {task} tasks")
    return supported


def build_space(task: TaskKind, families: list[str]) -> dict[str, Any]:
    """The family is chosen first; each branch only exposes that family's parameters."""
    model_branches = [
        {"family": name, **to_hyperopt_space(name, get_family(name).params(task))}
        for name in families
    ]
    selection_branches = [
        {"method": method, **to_hyperopt_space(f"select.{method}", spec)}
        for method, spec in SELECTION_METHODS.items()
    ]
    return {
        "model": hp.choice("family", model_branches),
        "feature_selection": hp.choice("feature_selection", selection_branches),
    }


def describe_space(task: TaskKind, families: list[str]) -> dict[str, Any]:
    """The same space as plain JSON, stored with every registered model."""
    return {
        "families": {name: describe(get_family(name).params(task)) for name in families},
        "feature_selection": {m: describe(spec) for m, spec in SELECTION_METHODS.items()},
    }

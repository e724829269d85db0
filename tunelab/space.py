"""The conditional search space: feature selection x model family x that family's parameters."""

from __future__ import annotations

from typing import Any

from hyperopt import hp

from tunelab.errors import ParameterError
from tunelab.models import FAMILIES, get_family
from tunelab.models.distributions import Choice, Distribution, describe, to_hyperopt_space
from tunelab.models.kinds import TaskKind
from tunelab.pipelines.feature_selection import SELECTION_METHODS


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


def _labelled_values(
    prefix: str, spec: dict[str, Distribution], chosen: dict[str, Any] | None
) -> dict[str, list[Any]]:
    """Hyperopt stores a choice as its index and a range as its value; inactive labels as []."""
    values: dict[str, list[Any]] = {}
    for param, dist in spec.items():
        if chosen is None:
            values[f"{prefix}.{param}"] = []
        elif isinstance(dist, Choice):
            values[f"{prefix}.{param}"] = [dist.options.index(chosen[param])]
        else:
            values[f"{prefix}.{param}"] = [float(chosen[param])]
    return values


def config_to_vals(config: dict[str, Any], task: TaskKind, families: list[str]) -> dict[str, list]:
    """A configuration in the form TPE records its own proposals, so it can learn from it.

    Starting points (library defaults, a portfolio, the outer folds' winners) are evaluated
    outside TPE's proposals; recording them this way lets TPE model them like any trial.
    """
    model = dict(config["model"])
    family = model.pop("family")
    selection = dict(config["feature_selection"])
    method = selection.pop("method")
    vals: dict[str, list[Any]] = {
        "family": [families.index(family)],
        "feature_selection": [list(SELECTION_METHODS).index(method)],
    }
    for name in families:
        spec = get_family(name).params(task)
        vals.update(_labelled_values(name, spec, model if name == family else None))
    for name, spec in SELECTION_METHODS.items():
        vals.update(_labelled_values(f"select.{name}", spec, selection if name == method else None))
    return vals


def portfolio_configs(task: TaskKind, families: list[str]) -> list[dict[str, Any]]:
    """Each family's starting points, all first choices before any second, cheapest first."""
    per_family = [get_family(name).portfolio(task) for name in families]
    configs = []
    for rank in range(max((len(p) for p in per_family), default=0)):
        for name, portfolio in zip(families, per_family, strict=True):
            if rank < len(portfolio):
                configs.append(
                    {
                        "model": {"family": name, **portfolio[rank]},
                        "feature_selection": {"method": "none"},
                    }
                )
    return configs

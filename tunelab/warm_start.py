"""Starting a search from what worked last time: a registered version's winners and best trials.

A scheduled retrain usually sees data much like the last run's, so the configurations that
won then are the best first guesses now. They go before the library's portfolio of defaults,
the same way the final search starts from the outer folds' winners; TPE records them like any
trial, so it learns from them whether or not they still win.
"""

from __future__ import annotations

import ast
from typing import Any

import pandas as pd

from tunelab.models import get_family
from tunelab.models.kinds import TaskKind
from tunelab.pipelines import normalise_config
from tunelab.space import config_to_vals
from tunelab.trials import TrialStatus

#: Best trials taken from the parent's final search, after its shipped configurations.
BEST_FINAL_TRIALS = 3
#: Best trials taken from each of the parent's outer-fold searches.
BEST_OUTER_TRIALS = 1


def winning_configs(card: dict[str, Any]) -> list[dict[str, Any]]:
    """What the parent shipped: its best single pipeline, then its blend's members."""
    best = card.get("best") or {}
    configs = [best["config"]] if best.get("config") else []
    configs += [m["config"] for m in best.get("ensemble") or [] if m.get("config")]
    return configs


def best_trial_configs(leaderboard: pd.DataFrame) -> list[dict[str, Any]]:
    """The leaderboard's best finished trials: the final search's, then each outer fold's.

    The leaderboard stores configurations as Python literals; a row that does not parse
    (edited by hand, or written by a future version) is skipped, not fatal.
    """
    if leaderboard.empty or not {"search", "status", "score", "config"} <= set(leaderboard):
        return []
    ok = leaderboard[leaderboard["status"] == TrialStatus.OK.value].sort_values(
        "score", ascending=False
    )
    picked = list(ok[ok["search"] == "final"]["config"].head(BEST_FINAL_TRIALS))
    for search in sorted(s for s in ok["search"].unique() if s != "final"):
        picked += list(ok[ok["search"] == search]["config"].head(BEST_OUTER_TRIALS))
    return [config for text in picked if (config := _literal(text)) is not None]


def _literal(text: Any) -> dict[str, Any] | None:
    try:
        value = ast.literal_eval(str(text))
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def fitting_configs(
    configs: list[dict[str, Any]], task: TaskKind, families: list[str]
) -> list[dict[str, Any]]:
    """The configurations this run's search space can hold, normalised, each once, in order.

    A parent trained for another task, with a family this run does not search, or with a
    parameter value the space no longer offers is dropped: the search would fail on it.
    """
    usable, seen = [], set()
    for config in configs:
        try:
            if config["model"]["family"] not in families:
                continue
            normalised = normalise_config(config, task)
            config_to_vals(normalised, task, families)
            if not _same_parameters(normalised, task):
                continue
        except (KeyError, ValueError, TypeError, IndexError):
            continue
        if repr(normalised) not in seen:
            seen.add(repr(normalised))
            usable.append(normalised)
    return usable


def _same_parameters(config: dict[str, Any], task: TaskKind) -> bool:
    """Exactly the parameters the family has now (one renamed since would fail the fit)."""
    model = dict(config["model"])
    family = get_family(model.pop("family"))
    return set(model) == set(family.params(task))


def warm_starting_points(
    card: dict[str, Any], leaderboard: pd.DataFrame, task: TaskKind, families: list[str]
) -> list[dict[str, Any]]:
    """The parent's winners, then its leaderboard's best trials, as this run can use them."""
    return fitting_configs(winning_configs(card) + best_trial_configs(leaderboard), task, families)

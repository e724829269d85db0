"""The retraining loop's stages: what the engine asks the registry before and after it trains.

Before training (:func:`prepare_retraining`): find the champion and the version to warm-start
from, compare today's training rows with the reference version's data profile (warn, or stop
with ``fail_on_drift``), and profile today's rows for the new card. After the test score
(:func:`judge_champion`): score the champion on the same rows and decide. After registration
(:func:`apply_decision`): move the alias, the one place a champion decision writes to the
registry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from tunelab.champion import ChampionUnusable, decide, score_champion
from tunelab.config import RunConfig
from tunelab.drift import DriftReport, compare_with_profile, profile_frame
from tunelab.errors import DataDriftError, RegistryCorruptError, RegistryError
from tunelab.lineage import parse_reference
from tunelab.listing import some_names
from tunelab.pipelines import DataSchema
from tunelab.retraining_summary import decision_sentence
from tunelab.runs import default_model_name
from tunelab.store import ModelStore, open_store
from tunelab.warm_start import warm_starting_points


@dataclass
class RetrainingInputs:
    """What the registry told a run before it trained, and what its card will record."""

    name: str
    #: Today's training rows, profiled for the new card (the next run's drift reference).
    profile: dict[str, Any]
    #: The version under ``config.champion`` when the run started (``None``: none yet).
    champion_version: int | None = None
    #: ``{"name", "version"}`` of the version the search was warm-started from.
    parent: dict[str, Any] | None = None
    starting_points: list[dict[str, Any]] = field(default_factory=list)
    drift: DriftReport | None = None

    def card_fields(self, champion: dict[str, Any] | None) -> dict[str, Any]:
        """The model card's retraining fields: profile, parent, champion decision, drift."""
        return {
            "profile": self.profile,
            "parent": self.parent,
            "champion": champion,
            "drift": self.drift.to_dict() if self.drift else None,
        }


def _champion_entry(store: ModelStore, name: str, alias: str | None) -> Any:
    """The champion's metadata, or ``None`` when the name or the alias does not exist yet."""
    if not alias:
        return None
    try:
        return store.metadata(name, alias)
    except RegistryCorruptError:
        raise
    except RegistryError:
        return None


def _parent_entry(store: ModelStore, reference: str | None, champion: Any) -> Any:
    """``--warm-start`` if given (it must exist), else the champion (if any)."""
    if reference:
        name, version = parse_reference(reference)
        return store.metadata(name, version)
    return champion


def _leaderboard(store: ModelStore, entry: Any) -> pd.DataFrame:
    try:
        return store.leaderboard(entry.name, entry.version)
    except (OSError, ValueError):  # a version without a readable leaderboard: winners only
        return pd.DataFrame()


def check_drift(reference: Any, X_train: pd.DataFrame, config: RunConfig, log: Any) -> Any:
    """Today's training rows against the reference version's profile; warns or stops."""
    if reference is None:
        return None
    label = f"{reference.name} v{reference.version}"
    profile = reference.metadata.get("profile")
    if not profile:
        log.info("No drift check: %s has no data profile (registered before profiles)", label)
        return None
    report = compare_with_profile(profile, X_train, config.drift_threshold, label)
    if report.missing_columns:
        log.warning("Columns of %s missing today: %s", label, some_names(report.missing_columns))
    if not report.drifted:
        log.info(report.summary())
        return report
    if config.fail_on_drift:
        raise DataDriftError(
            f"{report.summary()}. Stopped before training (--fail-on-drift); check the data "
            "source, or raise --drift-threshold or drop --fail-on-drift to train anyway"
        )
    log.warning(report.summary())
    return report


def prepare_retraining(
    config: RunConfig,
    schema: DataSchema,
    families: list[str],
    X_train: pd.DataFrame,
    log: Any,
) -> RetrainingInputs:
    """Everything a run needs from earlier versions, before any trial runs.

    A run without ``champion`` or ``warm_start`` only profiles its rows: it does not open
    the registry here, whose import (skops) would otherwise delay the first trial.
    """
    name = config.name or default_model_name(config.data, config.target)
    inputs = RetrainingInputs(name, profile_frame(X_train, schema))
    if not (config.champion or config.warm_start):
        return inputs
    store = open_store(config.data_dir)
    champion = _champion_entry(store, name, config.champion)
    parent = _parent_entry(store, config.warm_start, champion)
    inputs.drift = check_drift(champion or parent, X_train, config, log)
    if champion is not None:
        inputs.champion_version = champion.version
    elif config.champion:
        log.info(
            "No version of %s under %r yet: this run's version takes it", name, config.champion
        )
    if parent is not None:
        inputs.parent = {"name": parent.name, "version": parent.version}
        inputs.starting_points = warm_starting_points(
            parent.metadata, _leaderboard(store, parent), schema.task, families
        )
        log.info(
            "Warm start from %s v%d: %d of its configurations first",
            parent.name, parent.version, len(inputs.starting_points),
        )  # fmt: skip
    return inputs


def judge_champion(
    config: RunConfig,
    inputs: RetrainingInputs,
    task: str,
    metric: str,
    X_test: pd.DataFrame,
    y_test: pd.Series,
    challenger_score: float,
    log: Any,
) -> dict[str, Any] | None:
    """The champion's score on the challenger's test rows and the decision (no champion
    alias asked for: ``None``). Nothing is written here: the alias moves after registration."""
    if not config.champion:
        return None
    version, score, problem = inputs.champion_version, None, ""
    if version is not None:
        try:
            entry = open_store(config.data_dir).load(inputs.name, version)
            score = score_champion(
                entry.model, entry.metadata, task, metric, X_test, y_test, config.weight_column
            )
        except (ChampionUnusable, RegistryError) as exc:
            problem = str(exc)
            log.warning("Champion %s v%d cannot compete: %s", inputs.name, version, problem)
    decision = decide(
        config.champion, version, score, challenger_score, config.min_improvement, problem
    )
    return decision.to_dict()


def apply_decision(
    data_dir: str | None, name: str, version: int, decision: dict[str, Any] | None, log: Any
) -> None:
    """Moves the alias to the new version when the decision says so; logs it either way."""
    if decision is None:
        return
    if decision["promoted"]:
        from tunelab.promote import promote

        promote(open_store(data_dir), name, version, decision["alias"])
    log.info("Champion decision: %s", decision_sentence(decision, name, version).replace("`", ""))

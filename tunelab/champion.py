"""Champion against challenger: does the new version beat the current one on the same rows?

The champion (the version under an alias such as ``production``) is scored on this run's
held-out test rows with this run's metric, the very computation that gave the challenger its
test score, so the two numbers compare like with like. The alias moves only when the
challenger is better by more than ``min_improvement``. A champion that cannot score today's
data (its columns are gone, its task changed, its file fails its check) cannot compete: the
decision says why, and the challenger takes the alias.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from tunelab.pipelines import DataSchema


class ChampionUnusable(Exception):
    """The champion cannot be scored on this run's rows (the reason is the message)."""


@dataclass
class ChampionDecision:
    """What the new model card records as ``champion``."""

    alias: str
    #: The champion's version; ``None`` when no version was under the alias yet.
    version: int | None
    #: The champion's score on this run's held-out test rows (``None``: it could not score).
    score: float | None
    challenger_score: float
    promoted: bool
    min_improvement: float
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def score_rows(
    model: Any, metric: str, X: pd.DataFrame, y: pd.Series, weights: Any = None
) -> float:
    """A fitted model's score on rows, computed as the run's held-out test score is (the same
    scorer, weighted by the same row weights)."""
    from tunelab.weights import run_scorer, weighted_score

    classes = None if not hasattr(model, "classes_") else np.unique([*model.classes_, *y])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return weighted_score(run_scorer(metric, classes), model, X, y, weights)


def score_champion(
    model: Any,
    card: dict[str, Any],
    task: str,
    metric: str,
    X: pd.DataFrame,
    y: pd.Series,
    weight_column: str | None = None,
) -> float:
    """The champion's score on ``X``/``y``; :class:`ChampionUnusable` if its schema no longer
    matches (another target or task, or columns it needs are missing or mistyped)."""
    from tunelab.errors import DataValidationError
    from tunelab.scoring import check_prediction_input  # with the registry: not at start-up
    from tunelab.weights import row_weights

    schema = DataSchema.from_dict(card["schema"])
    if schema.task != task or schema.target != y.name:
        raise ChampionUnusable(
            f"it predicts {schema.target!r} as a {schema.task} task, this run {y.name!r} as {task}"
        )
    try:
        features = check_prediction_input(X, schema, extra_columns="ignore")
    except DataValidationError as exc:
        raise ChampionUnusable(f"its schema no longer matches the data: {exc}") from None
    try:
        return score_rows(model, metric, features, y, row_weights(X, weight_column))
    except Exception as exc:  # e.g. a class it never saw: it cannot compete on these rows
        raise ChampionUnusable(
            f"it could not score these rows: {type(exc).__name__}: {exc}"
        ) from None


def decide(
    alias: str,
    version: int | None,
    champion_score: float | None,
    challenger_score: float,
    min_improvement: float,
    problem: str = "",
) -> ChampionDecision:
    """Promote when there is no usable champion, or when the challenger is better by more
    than ``min_improvement`` (every tunelab metric is greater-is-better)."""
    if version is None:
        promoted, reason = True, f"no version was under {alias!r}"
    elif champion_score is None:
        promoted, reason = True, f"champion v{version} cannot compete: {problem}"
    else:
        gain = challenger_score - champion_score
        promoted = gain > min_improvement
        verdict = "beats" if promoted else "does not beat"
        reason = (
            f"challenger {challenger_score:.4f} {verdict} champion v{version} "
            f"{champion_score:.4f} by more than {min_improvement:g} (difference {gain:+.4f})"
        )
    return ChampionDecision(
        alias, version, champion_score, challenger_score, promoted, min_improvement, reason
    )

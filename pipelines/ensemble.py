"""One scikit-learn estimator for a weighted blend of pipelines, so the registry ships one file.

scikit-learn's ``VotingClassifier`` (soft voting) and ``VotingRegressor`` average their
members' probabilities or predictions with weights, exactly the blend the ensemble selection
scored; they are plain scikit-learn types, so skops loads them under the registry's checks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sklearn.base import BaseEstimator
from sklearn.ensemble import VotingClassifier, VotingRegressor

from tunelab.models import is_classification
from tunelab.pipelines.builder import build_pipeline
from tunelab.pipelines.schema import DataSchema


def build_blend(
    members: Sequence[tuple[dict[str, Any], float]],
    schema: DataSchema,
    *,
    seed: int,
    n_jobs: int = 1,
) -> BaseEstimator:
    """The single pipeline for one member; a weighted soft-voting blend for several."""
    if len(members) == 1:
        return build_pipeline(members[0][0], schema, seed=seed, n_jobs=n_jobs)
    estimators = [
        (f"m{i}", build_pipeline(config, schema, seed=seed, n_jobs=n_jobs))
        for i, (config, _) in enumerate(members)
    ]
    weights = [weight for _, weight in members]
    # Members are fitted side by side, one per core (on threads: see tunelab.weights).
    side_by_side = max(1, min(n_jobs, len(estimators)))
    if is_classification(schema.task):
        return VotingClassifier(estimators, voting="soft", weights=weights, n_jobs=side_by_side)
    return VotingRegressor(estimators, weights=weights, n_jobs=side_by_side)

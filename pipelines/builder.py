"""Turns one sampled configuration into an unfitted scikit-learn estimator."""

from __future__ import annotations

from typing import Any

from sklearn.base import BaseEstimator
from sklearn.pipeline import Pipeline

from tunelab.models import TaskKind, get_family, is_classification
from tunelab.models.boosting import for_compact_table
from tunelab.models.distributions import coerce_params
from tunelab.pipelines.feature_selection import SELECTION_METHODS, make_selector
from tunelab.pipelines.label_encoding import LabelEncodedClassifier
from tunelab.pipelines.preprocessing import make_preprocessor
from tunelab.pipelines.schema import DataSchema


def normalise_config(config: dict[str, Any], task: TaskKind) -> dict[str, Any]:
    """Cast hyperopt's floats to the types each parameter expects (ints for counts)."""
    model = dict(config["model"])
    family = get_family(model.pop("family"))
    selection = dict(config["feature_selection"])
    method = selection.pop("method")
    return {
        "model": {"family": family.name, **coerce_params(model, family.params(task))},
        "feature_selection": {
            "method": method,
            **coerce_params(selection, SELECTION_METHODS[method]),
        },
    }


def build_pipeline(
    config: dict[str, Any], schema: DataSchema, *, seed: int, n_jobs: int = 1
) -> BaseEstimator:
    config = normalise_config(config, schema.task)
    model_params = dict(config["model"])
    family = get_family(model_params.pop("family"))
    model_params = family.for_width(model_params, len(schema.used_columns))
    model = family.build(model_params, schema.task, seed, n_jobs)
    if schema.compact:  # its input is this pipeline's own preprocessed matrix
        model = for_compact_table(model)
    pipeline = Pipeline(
        [
            ("preprocess", make_preprocessor(schema, scale=family.needs_scaling, seed=seed)),
            ("select", make_selector(config["feature_selection"], schema.task, seed, n_jobs)),
            ("model", model),
        ]
    )
    if is_classification(schema.task):
        return LabelEncodedClassifier(pipeline)
    return pipeline

"""scikit-learn pipeline construction: preprocessing, feature selection and the model step."""

from tunelab.pipelines.builder import build_pipeline, normalise_config
from tunelab.pipelines.schema import DataSchema, infer_schema

__all__ = ["DataSchema", "build_pipeline", "infer_schema", "normalise_config"]

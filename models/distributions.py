"""Declarative hyperparameter distributions.

Families describe their spaces with these small records instead of calling hyperopt
directly, so the same description can be turned into a hyperopt space *and* written to
the registry as plain JSON (users need to see what was searched, not a pyll graph).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from hyperopt import hp


@dataclass(frozen=True)
class Uniform:
    """A numeric range; ``log`` samples the exponent, ``integer`` rounds to whole numbers."""

    low: float
    high: float
    log: bool = False
    integer: bool = False

    def to_hyperopt(self, label: str) -> Any:
        if self.log:
            low, high = math.log(self.low), math.log(self.high)
            if self.integer:
                return hp.qloguniform(label, low, high, 1)
            return hp.loguniform(label, low, high)
        if self.integer:
            return hp.quniform(label, self.low, self.high, 1)
        return hp.uniform(label, self.low, self.high)

    def coerce(self, value: Any) -> Any:
        return int(round(value)) if self.integer else float(value)


@dataclass(frozen=True)
class Choice:
    """One of a fixed set of options (strings, numbers, booleans or ``None``)."""

    options: tuple[Any, ...]

    def to_hyperopt(self, label: str) -> Any:
        return hp.choice(label, list(self.options))

    def coerce(self, value: Any) -> Any:
        return value


Distribution = Uniform | Choice

#: Whether a classifier reweights classes to balance them (scikit-learn's and LightGBM's
#: ``class_weight``); searched, so imbalanced data can pick it where it helps the metric.
CLASS_WEIGHTS = Choice((None, "balanced"))


def to_hyperopt_space(prefix: str, params: dict[str, Distribution]) -> dict[str, Any]:
    """Hyperopt labels must be unique across the whole space, hence the family prefix."""
    return {name: dist.to_hyperopt(f"{prefix}.{name}") for name, dist in params.items()}


def coerce_params(params: dict[str, Any], spec: dict[str, Distribution]) -> dict[str, Any]:
    """Hyperopt returns floats for quantised ranges; estimators want ints."""
    return {
        name: spec[name].coerce(value) if name in spec else value for name, value in params.items()
    }


def describe(spec: dict[str, Distribution]) -> dict[str, dict[str, Any]]:
    """JSON-friendly description of a space, recorded with every registered model."""
    return {
        name: {"type": type(dist).__name__.lower(), **asdict(dist)} for name, dist in spec.items()
    }

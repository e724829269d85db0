"""Permutation importance whose cost is bounded by the table's shape, not only by a budget.

Permuting every column costs ``1 + columns x repeats`` scoring passes: on a 150 x 5,000 table
that is 15,001 predictions of the whole pipeline, which kept a run busy for more than nine
minutes after its model was registered. Here at most :data:`MAX_PERMUTED_COLUMNS` columns are
permuted: when there are more, the ones the model's own output follows most closely on the
test rows (absolute correlation, one extra prediction, a matrix product) are chosen, so the
columns left out are the ones least likely to matter to this model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

#: Columns permuted at most; with the default 3 repeats that is at most 151 scoring passes.
MAX_PERMUTED_COLUMNS = 50

Scorer = Callable[[Any, pd.DataFrame, pd.Series], float]


@dataclass
class Importance:
    columns: list[str]
    means: np.ndarray
    stds: np.ndarray
    #: Scoring passes made (the unit of cost): 1 baseline + columns x repeats.
    evaluations: int


def columns_to_permute(model: Any, X: pd.DataFrame, limit: int = MAX_PERMUTED_COLUMNS) -> list[str]:
    """All columns when there are at most ``limit``; else the ``limit`` whose values the
    model's predictions (class probabilities, or values) follow most, ties in table order."""
    columns = list(X.columns)
    if len(columns) <= limit:
        return columns
    output = _model_output(model, X)
    strength = np.abs(_standardised(_as_numbers(X)).T @ _standardised(output)).max(axis=1)
    order = np.argsort(-strength, kind="stable")[:limit]
    return [columns[i] for i in sorted(order)]


def _model_output(model: Any, X: pd.DataFrame) -> np.ndarray:
    method = getattr(model, "predict_proba", None) or model.predict
    values = np.asarray(method(X), dtype=float)
    return values.reshape(len(X), -1)


def _as_numbers(X: pd.DataFrame) -> np.ndarray:
    """Numbers as numbers, anything else as category codes; missing values as the median."""
    parts = []
    for name in X.columns:
        column = X[name]
        if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
            values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)
        else:
            codes = pd.factorize(column.astype(str).where(column.notna()))[0].astype(float)
            values = np.where(codes < 0, np.nan, codes)
        parts.append(values)
    matrix = np.column_stack(parts)
    medians = np.nanmedian(np.where(np.isfinite(matrix), matrix, np.nan), axis=0)
    medians = np.where(np.isfinite(medians), medians, 0.0)
    return np.where(np.isfinite(matrix), matrix, medians)


def _standardised(matrix: np.ndarray) -> np.ndarray:
    """Columns scaled to mean 0 and norm 1 (constant columns become 0), so that ``A.T @ B``
    is the matrix of correlations."""
    centred = matrix - matrix.mean(axis=0)
    norms = np.linalg.norm(centred, axis=0)
    return np.divide(centred, norms, out=np.zeros_like(centred), where=norms > 0)


def permutation_importance(
    model: Any,
    X: pd.DataFrame,
    y: pd.Series,
    scorer: Scorer,
    columns: list[str],
    repeats: int,
    seed: int,
) -> Importance:
    """The drop in score when each of ``columns`` is shuffled, ``repeats`` times each."""
    rng = np.random.RandomState(seed)
    baseline = scorer(model, X, y)
    shuffled = X.copy()
    drops = np.zeros((len(columns), repeats))
    for i, name in enumerate(columns):
        original = X[name]
        for r in range(repeats):
            shuffled[name] = original.iloc[rng.permutation(len(X))].set_axis(X.index)
            drops[i, r] = baseline - scorer(model, shuffled, y)
        shuffled[name] = original
    return Importance(
        columns=list(columns),
        means=drops.mean(axis=1),
        stds=drops.std(axis=1),
        evaluations=1 + len(columns) * repeats,
    )

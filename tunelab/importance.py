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

from tunelab.ensemble import fold_predictions, score_stored

#: Columns permuted at most; with the default 3 repeats that is at most 151 scoring passes.
MAX_PERMUTED_COLUMNS = 50
#: Cells (rows x columns) of shuffled copies predicted in one call (about 32 MB of floats).
MAX_BATCH_CELLS = 4_000_000

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
    classification: bool,
    sample_weight: np.ndarray | None = None,
) -> Importance:
    """The drop in score when each of ``columns`` is shuffled, ``repeats`` times each.

    The shuffled copies are stacked and predicted in a few calls (at most
    :data:`MAX_BATCH_CELLS` cells each), then scored block by block from the stored
    predictions: a wide pipeline's cost is per call (per-column work), not per row, so 151
    copies of 30 test rows cost about what two predictions of them do.
    """
    rng = np.random.RandomState(seed)
    plan: list[tuple[str | None, np.ndarray | None]] = [(None, None)]
    plan += [(name, rng.permutation(len(X))) for name in columns for _ in range(repeats)]
    classes = np.asarray(model.classes_) if classification else None
    per_call = max(1, MAX_BATCH_CELLS // max(X.size, 1))
    scores: list[float] = []
    for start in range(0, len(plan), per_call):
        part = plan[start : start + per_call]
        stacked = pd.concat([_shuffled(X, name, order) for name, order in part], ignore_index=True)
        predictions = fold_predictions(model, stacked, classification)
        for block in np.split(predictions, len(part)):
            scores.append(score_stored(scorer, block, y, classes, sample_weight))
    drops = scores[0] - np.asarray(scores[1:]).reshape(len(columns), repeats)
    return Importance(
        columns=list(columns),
        means=drops.mean(axis=1),
        stds=drops.std(axis=1),
        evaluations=len(plan),
    )


def _shuffled(X: pd.DataFrame, name: str | None, order: np.ndarray | None) -> pd.DataFrame:
    if name is None or order is None:
        return X
    frame = X.copy(deep=False)
    frame[name] = X[name].iloc[order].to_numpy()
    return frame

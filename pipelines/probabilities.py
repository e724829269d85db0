"""Class probabilities that are never exactly 0 or 1.

Why: a k-NN whose neighbours all agree, or a forest whose trees all end in pure leaves,
predicts probability 1 for one class and 0 for the others. Log loss charges such a model
about 36 (``-log`` of machine epsilon) for each row it gets wrong: a 344-row table's k-NN won
its search with a nested-CV log loss of 0.028 (no fold row wrong) and scored 0.517 on unseen
rows (one row wrong). Mixing every prediction with the uniform distribution,
``(1 - floor) * p + floor / K``, bounds that cost (about 8 for 3 classes) while changing
nothing else: the mix is strictly increasing in ``p``, so the predicted class, every ranking
(ROC AUC) and every threshold-free metric stay exactly as they were, and rows still sum to 1.
A model that already predicts ``p = 0.99`` pays at most ``floor`` (0.001) per row for it.
"""

from __future__ import annotations

import numpy as np

#: Weight of the uniform distribution in every classifier's predicted probabilities.
PROBABILITY_FLOOR = 1e-3


def floor_probabilities(probabilities: np.ndarray, floor: float) -> np.ndarray:
    """``(1 - floor) * p + floor / K`` row by row: no class below ``floor / K``, none at 1."""
    values = np.asarray(probabilities, dtype=float)
    if floor <= 0 or values.ndim != 2:
        return values
    return (1.0 - floor) * values + floor / values.shape[1]

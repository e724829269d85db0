"""The held-out test split: the rows no search, fold or selection step ever sees."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from sklearn.model_selection import train_test_split


@dataclass
class HoldoutSplit:
    X_train: pd.DataFrame
    X_test: pd.DataFrame
    y_train: pd.Series
    y_test: pd.Series


def split_holdout(
    features: pd.DataFrame, target: pd.Series, task: str, test_size: float, seed: int
) -> HoldoutSplit:
    """Stratified for classification, so a rare class is in both parts in its proportion."""
    stratify = None if task == "regression" else target
    X_train, X_test, y_train, y_test = train_test_split(
        features, target, test_size=test_size, random_state=seed, stratify=stratify
    )
    return HoldoutSplit(X_train, X_test, y_train, y_test)

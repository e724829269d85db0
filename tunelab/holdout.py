"""The held-out test split: the rows no search, fold or selection step ever sees."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from tunelab.splits import SplitPlan, holdout_positions


@dataclass
class HoldoutSplit:
    X_train: pd.DataFrame
    X_test: pd.DataFrame
    y_train: pd.Series
    y_test: pd.Series


def split_holdout(
    features: pd.DataFrame,
    target: pd.Series,
    task: str,
    test_size: float,
    seed: int,
    plan: SplitPlan | None = None,
) -> HoldoutSplit:
    """Stratified for classification, so a rare class is in both parts in its proportion;
    by groups or by time when ``plan`` says so (see :mod:`tunelab.splits`)."""
    train, test = holdout_positions(features, target, task, test_size, seed, plan or SplitPlan())
    return HoldoutSplit(
        features.iloc[train], features.iloc[test], target.iloc[train], target.iloc[test]
    )

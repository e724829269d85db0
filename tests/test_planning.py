"""How a time budget is shared between searches, and how many random trials open a search."""

from __future__ import annotations

import pytest

from flows.planning import (
    FIXED_RESERVE_SECONDS,
    SEARCH_SHARE_OF_BUDGET,
    final_search_deadline,
    plan_outer_deadlines,
)
from models import FAMILIES
from tunelab.search import SearchSettings, startup_trials


def test_outer_batches_and_final_search_get_even_shares():
    deadlines = plan_outer_deadlines(100.0, 60.0, batches=2)
    share = 60.0 * SEARCH_SHARE_OF_BUDGET / 3
    assert deadlines == pytest.approx([100.0 + share, 100.0 + 2 * share])
    assert plan_outer_deadlines(100.0, None, batches=2) == [None, None]


def test_final_search_reserve_follows_the_measured_fit_times():
    fast = final_search_deadline(0.0, 60.0, [0.2, 0.5])
    assert fast == pytest.approx(60.0 - FIXED_RESERVE_SECONDS - 2 * 0.5)
    slow = final_search_deadline(0.0, 60.0, [0.5, 20.0])
    assert slow == pytest.approx(60.0 * SEARCH_SHARE_OF_BUDGET), "reserve capped at its share"
    unmeasured = final_search_deadline(0.0, 60.0, [])
    assert unmeasured == pytest.approx(60.0 * SEARCH_SHARE_OF_BUDGET)
    assert final_search_deadline(0.0, None, [1.0]) is None


def settings(max_evals: int) -> SearchSettings:
    return SearchSettings(
        schema=None, families=tuple(FAMILIES), metric="r2", inner_folds=3, max_evals=max_evals,
        seed=0,
    )  # fmt: skip


def test_budgeted_searches_start_modelling_after_about_one_trial_per_family():
    assert startup_trials(settings(100), deadline=None) == 20
    assert startup_trials(settings(9), deadline=None) == 3
    assert startup_trials(settings(100_000), deadline=1e12) == len(FAMILIES)
    assert startup_trials(settings(9), deadline=1e12) == 3

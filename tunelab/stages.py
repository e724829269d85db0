"""The stages of a training run, each a plain function the engine hands to its runner.

Kept apart from :mod:`tunelab.engine` (which decides the order and the budget) so a runner
can wrap each one, e.g. as a Prefect task with its own name, retries and log.
"""

from __future__ import annotations

import warnings
from typing import Any

import pandas as pd

from tunelab.call_context import PRELOADED
from tunelab.config import RunConfig
from tunelab.ensemble import Member
from tunelab.outcome import RunOutcome
from tunelab.search import SearchSettings, TrialRecord


def load_and_validate(config: RunConfig) -> Any:
    from tunelab.prepare import prepare_data

    handoff = PRELOADED.get()
    preloaded = handoff.take() if handoff is not None else None
    if preloaded is not None and preloaded.source == config.data:
        return preloaded
    return prepare_data(config)


def holdout_split(prepared: Any, test_size: float, seed: int) -> Any:
    """The test rows leave here and are not touched again until the final score."""
    from tunelab.holdout import split_holdout

    return split_holdout(
        prepared.features, prepared.target, prepared.task, test_size, seed, prepared.plan
    )


def refit_and_test(members: list[Member], settings: SearchSettings, split: Any):
    """The only place the held-out test rows are scored, once, by the refitted winner."""
    from tunelab.nested_cv import fit_and_score

    return fit_and_score(
        members, settings, split.X_train, split.y_train, split.X_test, split.y_test
    )


def refit_on_all_rows(
    members: list[Member], settings: SearchSettings, X: pd.DataFrame, y: pd.Series
) -> Any:
    """The shipped model sees every row the user gave, after the test score is recorded."""
    from tunelab.compact import return_freed_memory_after_large_fit
    from tunelab.nested_cv import build_chosen
    from tunelab.weights import fit_weighted, row_weights

    return_freed_memory_after_large_fit(settings.schema)
    model = build_chosen(members, settings, rows=len(X))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fit_weighted(model, X, y, row_weights(X, settings.plan.weight_column))


def register_model(
    data_dir: str | None,
    name: str,
    model: Any,
    metadata: dict[str, Any],
    leaderboard: pd.DataFrame,
) -> Any:
    from tunelab.store import open_store

    return open_store(data_dir).register(name, model, metadata, leaderboard)


def write_report(
    data_dir: str | None, name: str, version: int, inputs: Any
) -> tuple[dict[str, Any], str]:
    """Plots of the search and of the winner on the test rows, stored with the version."""
    from tunelab.report import build_figures, render_html
    from tunelab.store import REPORT_FILE, open_store

    figures = build_figures(inputs)
    html = render_html(inputs, figures)
    open_store(data_dir).attach(name, version, REPORT_FILE, html.encode())
    return figures, html


def track_in_mlflow(
    tracking_uri: str, outcome: RunOutcome, report_html: str | None, log: Any
) -> str | None:
    """Logs the registered run to MLflow; the model is already registered, so a tracking
    failure is reported loudly but does not undo the run."""
    from tunelab.sources import mask_url
    from tunelab.tracking import log_run

    result = outcome.result
    try:
        run_id = log_run(
            tracking_uri,
            name=result.name,
            version=result.version,
            card=outcome.card.to_dict(),
            trials=outcome.trials,
            model=outcome.model,
            report_html=report_html,
        )
    except Exception as exc:
        log.error("MLflow logging failed: %s", _masked(exc, tracking_uri))
        return None
    shown = mask_url(tracking_uri)
    log.info("Logged to MLflow at %s (run %s, model %s)", shown, run_id, result.name)
    return run_id


def _masked(exc: Exception, tracking_uri: str) -> str:
    """A tracking failure as one line with no credentials (TrackingError is already masked)."""
    from tunelab.errors import TunelabError
    from tunelab.tracking import masked_message

    if isinstance(exc, TunelabError):
        return masked_message(exc, tracking_uri)
    return f"{type(exc).__name__}: {masked_message(exc, tracking_uri)}"


def leaderboard_frame(records: list[TrialRecord]) -> pd.DataFrame:
    frame = pd.DataFrame([r.to_row() for r in records])
    return frame.sort_values(["search", "score"], ascending=[True, False], na_position="last")

"""What a finished run shows in the Prefect UI: a summary and the leaderboard as artifacts."""

from __future__ import annotations

from typing import Any

from prefect.artifacts import create_markdown_artifact, create_table_artifact

from tunelab.budget import CLOSING_SECONDS, seconds_left
from tunelab.card import ModelCard
from tunelab.names import artifact_key
from tunelab.retraining_summary import retraining_markdown
from tunelab.stages import leaderboard_frame
from tunelab.store import report_location


def summary_markdown(name: str, version: int, location: str, card: ModelCard) -> str:
    outer = card.metrics.outer_cv
    interval = (
        f"{outer['interval_low']:.4f} – {outer['interval_high']:.4f}"
        if "interval_low" in outer
        else "-"
    )
    rows = "\n".join(
        f"| {f.fold} | {f.family} | {f.score:.4f} | {f.inner_best_score:.4f} |"
        for f in card.metrics.outer_folds
    )
    trials = card.trials
    shipped = (
        "refitted on all rows after the test score" if card.refit_full else "fitted on train rows"
    )
    return f"""# {name} v{version}

**Task** {card.task} · **target** `{card.target}` · **metric** `{card.metric}` \
· **seed** {card.seed}

{retraining_markdown(card.to_dict(), name, version)}
| estimate | value |
|---|---|
| nested CV (outer folds) mean ± std | {outer["mean"]:.4f} ± {outer["std"]:.4f} |
| outer-fold range | {outer["min"]:.4f} – {outer["max"]:.4f} |
| 95% interval for a new held-out score | {interval} |
| held-out test score | {card.metrics.test_score:.4f} |
| final search best inner CV | {card.metrics.final_inner_cv:.4f} |

Winner: **{card.best_family}** ({shipped}); best single pipeline `{card.best["config"]}`

| outer fold | chosen family | outer score | inner best |
|---|---|---|---|
{rows}

Trials: {trials.total} ({trials.pruned} pruned early, {trials.cut} cut by a time limit, \
{trials.failed} failed, {trials.skipped} skipped).
Stored at `{location}`.
"""


def publish_artifacts(outcome: Any) -> None:
    """The summary, the report's tables and the leaderboard, then the plots as images: the
    images come last and only as many as the run's time budget still allows."""
    result = outcome.result
    key = artifact_key(result.name)
    create_markdown_artifact(
        key=f"{key}-summary",
        markdown=summary_markdown(result.name, result.version, result.location, outcome.card),
        description=f"tunelab {result.name} v{result.version}",
    )
    report_path = report_location(result.location)
    if outcome.report is not None:
        from tunelab.flows.report_artifacts import publish_report_artifacts

        inputs, figures = outcome.report
        publish_report_artifacts(inputs, key, figures=figures, report_path=report_path)
    board = leaderboard_frame(outcome.trials).head(200)
    table = board.astype(object).where(board.notna(), None)
    create_table_artifact(
        key=f"{key}-leaderboard",
        table=table.to_dict(orient="records"),
        description=f"Trials behind {result.name} v{result.version}",
    )
    if outcome.report is not None:
        from tunelab.report_images import plots_markdown

        _, figures = outcome.report
        title = f"{result.name} v{result.version}"
        seconds = seconds_left(outcome.card.parameters.get("time_budget"), CLOSING_SECONDS)
        create_markdown_artifact(
            key=f"{key}-plots",
            markdown=plots_markdown(title, figures, report_path, seconds),
            description=f"Plots of {title}",
        )

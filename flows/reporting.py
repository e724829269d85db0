"""What a finished run shows: the leaderboard and the Prefect artifacts (summary and table)."""

from __future__ import annotations

import re

import pandas as pd
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from tunelab.registry import RegisteredModel
from tunelab.search import TrialRecord


def leaderboard_frame(records: list[TrialRecord]) -> pd.DataFrame:
    frame = pd.DataFrame([r.to_row() for r in records])
    return frame.sort_values(["search", "score"], ascending=[True, False], na_position="last")


def summary_markdown(entry: RegisteredModel) -> str:
    meta = entry.metadata
    trials = meta["trials"]
    outer = meta["metrics"]["outer_cv"]
    rows = "\n".join(
        f"| {f['fold']} | {f['family']} | {f['score']:.4f} | {f['inner_best_score']:.4f} |"
        for f in meta["metrics"]["outer_folds"]
    )
    return f"""# {entry.name} v{entry.version}

**Task** {meta["task"]} · **target** `{meta["target"]}` · **metric** `{meta["metric"]}` \
· **seed** {meta["seed"]}

| estimate | value |
|---|---|
| nested CV (outer folds) mean ± std | {outer["mean"]:.4f} ± {outer["std"]:.4f} |
| outer-fold range | {outer["min"]:.4f} – {outer["max"]:.4f} |
| held-out test score | {meta["metrics"]["test_score"]:.4f} |
| final search best inner CV | {meta["metrics"]["final_inner_cv"]:.4f} |

Winner: **{meta["best"]["family"]}** `{meta["best"]["config"]}`

| outer fold | chosen family | outer score | inner best |
|---|---|---|---|
{rows}

Trials: {trials["total"]} ({trials["pruned"]} pruned early, {trials["failed"]} failed, \
{trials["skipped"]} skipped).
Stored at `{entry.path}`.
"""


def publish_artifacts(entry: RegisteredModel, leaderboard: pd.DataFrame) -> None:
    key = re.sub(r"[^a-z0-9-]+", "-", entry.name.lower()).strip("-") or "model"
    create_markdown_artifact(
        key=f"{key}-summary",
        markdown=summary_markdown(entry),
        description=f"tunelab {entry.name} v{entry.version}",
    )
    table = leaderboard.head(200).astype(object).where(leaderboard.head(200).notna(), None)
    create_table_artifact(
        key=f"{key}-leaderboard",
        table=table.to_dict(orient="records"),
        description=f"Trials behind {entry.name} v{entry.version}",
    )

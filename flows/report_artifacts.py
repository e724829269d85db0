"""The report's data as Prefect artifacts: tables behind the plots and a Markdown summary.

In the Prefect layer, so the report itself (:mod:`tunelab.report`) imports no Prefect: the
Prefect UI runs no plot scripts, so it gets the data and a pointer to the HTML report.
"""

from __future__ import annotations

import html
from pathlib import Path

import pandas as pd
from plotly.graph_objects import Figure
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from tunelab.names import artifact_key
from tunelab.report import ReportInputs, build_figures, trials_frame
from tunelab.report_drift import drift_frame
from tunelab.trials import TrialStatus


def publish_report_artifacts(
    inputs: ReportInputs,
    key: str,
    figures: dict[str, Figure] | None = None,
    report_path: str | Path | None = None,
) -> list[str]:
    """Publishes what the Prefect UI can show: the data behind the plots as table artifacts and
    a Markdown summary. Images are not published: plotly needs kaleido and a browser for PNGs,
    and the Prefect UI needs an image *URL*. Returns the artifact keys (Prefect's rules:
    lowercase letters, digits and dashes)."""
    key = artifact_key(key)
    title = inputs.name + (f" v{inputs.version}" if inputs.version is not None else "")
    if figures is None:
        figures = build_figures(inputs)
    keys = []

    def table(suffix: str, frame: pd.DataFrame, description: str) -> None:
        frame = frame.head(500).astype(object)
        frame = frame.where(frame.notna(), None)
        create_table_artifact(
            key=f"{key}-{suffix}", table=frame.to_dict(orient="records"), description=description
        )
        keys.append(f"{key}-{suffix}")

    frame = trials_frame(inputs.trials)
    if not frame.empty:
        best = (
            frame[frame["status"] == TrialStatus.OK.value]
            .groupby(["search", "family"], as_index=False)["score"]
            .agg(["max", "mean", "count"])
        )
        table("families", best, f"Best inner-CV score per family and search: {title}")
    if inputs.card.get("drift"):
        drift = inputs.card["drift"]
        table("drift", drift_frame(drift), f"Data drift against {drift['reference']}: {title}")
    if "importance" in figures:
        bar = figures["importance"].data[0]
        table(
            "importance",
            pd.DataFrame({"column": list(bar.y), "importance": list(bar.x)}).iloc[::-1],
            f"Permutation importance on the held-out test rows: {title}",
        )
    if "confusion" in figures:
        heat = figures["confusion"].data[0]
        matrix = pd.DataFrame(heat.z, index=list(heat.y), columns=list(heat.x))
        matrix.insert(0, "actual \\ predicted", matrix.index)
        table("confusion", matrix, f"Confusion matrix on the held-out test rows: {title}")
    lines = [f"# Report: {title}", ""]
    if report_path is not None:
        lines.append(f"Interactive report (open in a browser): `{report_path}`")
        lines.append("")
    lines.append("| plot | what it shows |")
    lines.append("|---|---|")
    lines += [
        f"| `{k}` | {html.escape(str(figures[k].layout.title.text or ''))} |" for k in figures
    ]
    if inputs.notes:
        lines += ["", "Notes (plots not drawn or shrunk):", *(f"- {n}" for n in inputs.notes)]
    create_markdown_artifact(
        key=f"{key}-report", markdown="\n".join(lines), description=f"tunelab report: {title}"
    )
    keys.append(f"{key}-report")
    return keys

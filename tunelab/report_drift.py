"""The retraining part of a report: the champion decision, the warm start and the drift check.

Drawn from the model card alone (its ``champion``, ``parent`` and ``drift`` fields), so a
report rebuilt later says what the run decided. The drift plot uses only bar traces, which
:mod:`tunelab.report_images` redraws as a PNG for the Prefect UI.
"""

from __future__ import annotations

import html
import re
from typing import Any

import pandas as pd
import plotly.graph_objects as go
from plotly.graph_objects import Figure

from tunelab.retraining_summary import decision_sentence, drift_sentence

DRIFTED_COLOUR = "#d62728"
STABLE_COLOUR = "#1f77b4"


def drift_frame(drift: dict[str, Any]) -> pd.DataFrame:
    """One row per compared feature, largest PSI first (the table in report and UI)."""
    rows = [
        {
            "feature": f["column"],
            "kind": f["kind"],
            "psi": round(float(f["psi"]), 4),
            "drifted": bool(f["drifted"]),
            "largest change": f["change"],
        }
        for f in drift.get("features") or []
    ]
    return pd.DataFrame(rows, columns=["feature", "kind", "psi", "drifted", "largest change"])


def drift_figure(drift: dict[str, Any]) -> Figure:
    """PSI per feature as horizontal bars, drifted ones (above the threshold) in red."""
    frame = drift_frame(drift).iloc[::-1]  # largest at the top
    fig = go.Figure()
    for drifted, label, colour in (
        (False, "stable", STABLE_COLOUR),
        (True, f"drifted (PSI > {drift['threshold']:g})", DRIFTED_COLOUR),
    ):
        part = frame[frame["drifted"] == drifted]
        if len(part):
            fig.add_trace(
                go.Bar(
                    x=part["psi"],
                    y=part["feature"],
                    orientation="h",
                    name=label,
                    marker_color=colour,
                    hovertext=part["largest change"],
                )
            )
    fig.update_layout(
        title=f"Data drift against {drift['reference']}: PSI per feature of the training rows",
        xaxis_title="population stability index",
        yaxis_title="feature",
        height=max(300, 24 * len(frame) + 120),
    )
    return fig


def _inline_markdown(text: str) -> str:
    escaped = html.escape(text)
    return re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", re.sub(r"`(.+?)`", r"<code>\1</code>", escaped))


def retraining_html(card: dict[str, Any], name: str, version: int | None) -> str:
    """A "Retraining" section (empty for a run that had no champion, parent or reference)."""
    champion, drift, parent = card.get("champion"), card.get("drift"), card.get("parent")
    if not (champion or drift or parent):
        return ""
    items = []
    if champion:
        items.append("Champion decision: " + decision_sentence(champion, name, version or 0))
    if parent:
        items.append(f"Warm start from {parent['name']} v{parent['version']}.")
    if drift:
        items.append("Data drift: " + drift_sentence(drift) + ".")
    body = "".join(f"<li>{_inline_markdown(item)}</li>" for item in items)
    table = ""
    if drift and drift.get("features"):
        table = drift_frame(drift).to_html(index=False, border=0, classes="drift")
    return f"<h2>Retraining</h2><ul>{body}</ul>{table}"

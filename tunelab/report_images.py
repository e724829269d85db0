"""The report's main plots as PNG images, for places that cannot run the report's scripts.

The Prefect UI renders Markdown artifacts, including images given as ``data:`` URIs, but not
plotly's JavaScript. So the plots that matter most at a glance (search history, family
comparison, importance, the held-out test plots) are redrawn here with matplotlib from the
very data of the report's plotly figures: one source of numbers, two renderings.
"""

from __future__ import annotations

import base64
import io
import sys
import time
import zlib
from typing import Any

#: Report figures drawn as images, in the order shown.
IMAGE_KEYS = (
    "drift",
    "history/final",
    "families",
    "importance",
    "confusion",
    "roc",
    "pr",
    "predicted_vs_actual",
    "residuals",
)

#: Expected seconds for the first image on a loaded machine (importing matplotlib included)
#: and for each one after it, before any is measured.
FIRST_IMAGE_SECONDS = 1.0
IMAGE_SECONDS = 0.2


def _values(seq: Any) -> list[Any]:
    return [] if seq is None else list(seq)


def _draw_trace(ax: Any, trace: Any, categories: dict[str, int]) -> None:
    kind = trace.type
    name = trace.name or None
    if kind == "scatter":
        mode = trace.mode or "markers"
        style = ("-" if "lines" in mode else "") + ("o" if "markers" in mode else "")
        xs = _values(trace.x)
        if any(isinstance(x, str) for x in xs):  # categories shared with the strip plots
            xs = [categories.setdefault(str(x), len(categories)) for x in xs]
            ax.set_xticks(list(categories.values()), list(categories), rotation=30, ha="right")
        marker = "*" if "held-out" in (name or "") else "o"
        style = style.replace("o", marker)
        ax.plot(xs, _values(trace.y), style or marker, label=name, markersize=5, alpha=0.8)
    elif kind == "bar":
        if trace.orientation == "h":
            ax.barh([str(v) for v in _values(trace.y)], _values(trace.x), label=name)
        else:
            ax.bar([str(v) for v in _values(trace.x)], _values(trace.y), label=name)
    elif kind == "box":  # drawn as a strip plot: every score, grouped by its x category
        xs, ys = _values(trace.x), _values(trace.y)
        if not xs:
            xs = [name or ""] * len(ys)
        positions = [categories.setdefault(str(x), len(categories)) for x in xs]
        jitter = (zlib.crc32((name or "").encode()) % 7 - 3) * 0.04
        ax.plot([p + jitter for p in positions], ys, "o", label=name, markersize=4, alpha=0.7)
        ax.set_xticks(list(categories.values()), list(categories), rotation=30, ha="right")
    elif kind == "heatmap":
        z = [list(row) for row in trace.z]
        ax.imshow(z, cmap="Blues")
        xs, ys = [str(v) for v in _values(trace.x)], [str(v) for v in _values(trace.y)]
        if xs:
            ax.set_xticks(range(len(xs)), xs, rotation=30, ha="right")
        if ys:
            ax.set_yticks(range(len(ys)), ys)
        for i, row in enumerate(z):
            for j, value in enumerate(row):
                ax.text(j, i, f"{value:g}", ha="center", va="center", fontsize=8)


def figure_png(figure: Any) -> bytes:
    """A plotly figure made of scatter, bar, box and heatmap traces, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 3.6), dpi=90)
    try:
        categories: dict[str, int] = {}
        for trace in figure.data:
            _draw_trace(ax, trace, categories)
        title = figure.layout.title.text or ""
        ax.set_title(title[:90], fontsize=10)
        ax.set_xlabel(figure.layout.xaxis.title.text or "", fontsize=9)
        ax.set_ylabel(figure.layout.yaxis.title.text or "", fontsize=9)
        handles, labels = ax.get_legend_handles_labels()
        if 1 < len(labels) <= 12:
            ax.legend(fontsize=7, loc="best")
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
        return buffer.getvalue()
    finally:
        plt.close(fig)


def plots_markdown(
    title: str, figures: dict[str, Any], report_path: str | None, seconds: float | None = None
) -> str:
    """Markdown with the main plots inline; a plot that cannot be drawn is named, not fatal.

    With ``seconds`` (the time the images may take, under a run's budget) the images are
    drawn one at a time while the next is expected to fit, the first counting the plotting
    library's import; the rest are named as left out, with the reason.
    """
    lines = [f"# {title}: plots", ""]
    if report_path:
        lines += [f"The interactive report with every plot is `{report_path}`.", ""]
    keys = [key for key in IMAGE_KEYS if key in figures]
    started = time.perf_counter()
    expected = FIRST_IMAGE_SECONDS if "matplotlib.pyplot" not in sys.modules else IMAGE_SECONDS
    for done, key in enumerate(keys):
        spent = time.perf_counter() - started
        if seconds is not None and spent + expected > seconds:
            left_out = ", ".join(keys[done:])
            lines += [f"*Left out to end within the time budget: {left_out}.*", ""]
            break
        before = time.perf_counter()
        try:
            encoded = base64.b64encode(figure_png(figures[key])).decode()
        except Exception as exc:  # a picture must never fail a finished run
            lines += [f"*{key}: not drawn ({type(exc).__name__}: {exc})*", ""]
            continue
        finally:
            expected = time.perf_counter() - before
        lines += [f"![{key}](data:image/png;base64,{encoded})", ""]
    return "\n".join(lines)

"""A visual report for one registered run: one self-contained HTML page with interactive plots.

Why plotly (and not matplotlib PNGs): the search history, slice and parallel-coordinates plots
are only useful if a reader can hover a point to see its trial and configuration, and zoom
into a crowded region. ``plotly`` writes one HTML file with ``plotly.js`` inlined *once* in the
page head, so the report opens offline (no CDN), from ``file://``, from an MLflow artifact view
or as a CI attachment. The price is that static PNGs would need kaleido plus a browser, so
:func:`tunelab.flows.report_artifacts.publish_report_artifacts` publishes the plotted data as
Prefect *table* artifacts and a Markdown summary (this module imports no Prefect).

A report must never fail a training run that has already produced a model: each plot is built
on its own and a plot that cannot be drawn (for instance ROC with one class in the test rows)
becomes a note on the page instead of an exception.
"""

from __future__ import annotations

import html
import json
import math
import re
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.graph_objects import Figure
from plotly.subplots import make_subplots

from tunelab.budget import CLOSING_SECONDS, seconds_left
from tunelab.importance import Importance, columns_to_permute, permutation_importance
from tunelab.report_drift import drift_figure, retraining_html
from tunelab.trials import TrialRecord, TrialStatus

#: Trial statuses that carry a (possibly partial) cross-validated score.
SCORED_STATUSES = (TrialStatus.OK, TrialStatus.PRUNED)
#: Permutation importance is computed on at most this many held-out rows (it refits nothing,
#: but it predicts ``n_repeats`` times per column).
IMPORTANCE_MAX_ROWS = 2000
IMPORTANCE_REPEATS = 3
#: Under a time budget importance shrinks (one repeat, fewer rows) to fit the time left; below
#: this many rows it is left out instead (with a note saying so).
IMPORTANCE_MIN_ROWS = 200
#: Seconds kept for what the report does after the importance (its HTML, writing it).
RENDER_SECONDS = 0.3
CLASSIFICATION_TASKS = ("binary", "multiclass")


@dataclass
class ReportInputs:
    """Everything a report needs; all of it exists in memory at the end of a training run."""

    card: dict[str, Any]
    trials: Sequence[TrialRecord]
    model: Any
    X_test: pd.DataFrame
    y_test: pd.Series
    name: str
    version: int | None = None
    #: Filled by :func:`build_figures` with the plots that could not be drawn, and why.
    notes: list[str] = field(default_factory=list)


# --- helpers ---------------------------------------------------------------------------------
def _family_colours(trials: Sequence[TrialRecord]) -> dict[str, str]:
    families = sorted({t.family for t in trials})
    palette = qualitative.Plotly
    return {family: palette[i % len(palette)] for i, family in enumerate(families)}


def _status(trial: TrialRecord) -> str:
    """Plain status text whether ``status`` is a str or tunelab's ``TrialStatus`` enum."""
    return str(getattr(trial.status, "value", trial.status))


def _has_score(trial: TrialRecord) -> bool:
    return (
        _status(trial) in SCORED_STATUSES
        and trial.score is not None
        and math.isfinite(float(trial.score))
    )


def _flat_params(config: dict[str, Any]) -> dict[str, Any]:
    """``{'model': {...}, 'feature_selection': {...}}`` as one flat dict of plot-able values."""
    flat: dict[str, Any] = {}
    for key, value in (config.get("model") or {}).items():
        if key != "family":
            flat[key] = value
    for key, value in (config.get("feature_selection") or {}).items():
        flat["selection" if key == "method" else f"selection.{key}"] = value
    return flat


def _is_numeric(values: list[Any]) -> bool:
    return all(
        isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))
        for v in values
        if v is not None
    )


def _label(value: Any) -> str:
    """Category label; floats mixed with text (e.g. a threshold of 0.0123 or 'median') short."""
    if isinstance(value, (float, np.floating)):
        return f"{value:.3g}"
    return str(value)


def _hover(trial: TrialRecord) -> str:
    return html.escape(json.dumps(trial.config, default=str))[:400]


def trials_frame(trials: Sequence[TrialRecord]) -> pd.DataFrame:
    """One row per trial with its flat parameters; the data behind the search plots."""
    rows = []
    for t in trials:
        rows.append(
            {
                "search": t.search,
                "number": t.number,
                "family": t.family,
                "status": _status(t),
                "score": t.score if _has_score(t) else None,
                "score_std": t.score_std,
                "fit_seconds": t.fit_seconds,
                **_flat_params(t.config or {}),
            }
        )
    return pd.DataFrame(rows)


def _search_order(trials: Sequence[TrialRecord]) -> list[str]:
    """Outer folds first in numeric order, then the final search."""

    def key(label: str) -> tuple[int, int, str]:
        digits = re.findall(r"\d+", label)
        return (1 if label.startswith("final") else 0, int(digits[0]) if digits else 0, label)

    return sorted({t.search for t in trials}, key=key)


# --- search plots ----------------------------------------------------------------------------
def history_figure(search: str, trials: Sequence[TrialRecord], colours: dict[str, str]) -> Figure:
    """Score against trial number, one marker colour per family, with the running best."""
    fig = go.Figure()
    ordered = sorted(trials, key=lambda t: t.number)
    scored = [t for t in ordered if _has_score(t)]
    for family in sorted({t.family for t in scored}):
        for status, symbol in ((TrialStatus.OK, "circle"), (TrialStatus.PRUNED, "x")):
            points = [t for t in scored if t.family == family and _status(t) == status]
            if points:
                fig.add_scatter(
                    x=[t.number for t in points],
                    y=[t.score for t in points],
                    mode="markers",
                    marker={"color": colours[family], "symbol": symbol, "size": 9},
                    name=f"{family} ({status})",
                    text=[_hover(t) for t in points],
                    hovertemplate="trial %{x}<br>score %{y:.4f}<br>%{text}<extra></extra>",
                )
    best, xs, ys = -math.inf, [], []
    for t in ordered:
        if _status(t) == TrialStatus.OK and _has_score(t):
            best = max(best, float(t.score))  # type: ignore[arg-type]
        if best > -math.inf:
            xs.append(t.number)
            ys.append(best)
    if xs:
        fig.add_scatter(
            x=xs, y=ys, mode="lines", line={"shape": "hv", "color": "black"}, name="running best"
        )
    unscored = pd.Series(
        [_status(t) for t in ordered if not _has_score(t)], dtype=object
    ).value_counts()
    extra = ", ".join(f"{n} {status}" for status, n in unscored.items())
    fig.update_layout(
        title=f"Optimisation history: {search}" + (f" (not scored: {extra})" if extra else ""),
        xaxis_title="trial",
        yaxis_title="score (inner CV)",
    )
    return fig


def timeline_figure(
    search: str, trials: Sequence[TrialRecord], colours: dict[str, str]
) -> Figure | None:
    """When each trial of one search ran (a Gantt chart): overlapping bars ran at once."""
    timed = [t for t in trials if getattr(t, "started_at", "") and getattr(t, "finished_at", "")]
    if not timed:
        return None
    fig = go.Figure()
    for family in sorted({t.family for t in timed}):
        bars = sorted((t for t in timed if t.family == family), key=lambda t: t.number)
        starts = [pd.Timestamp(t.started_at) for t in bars]
        ends = [pd.Timestamp(t.finished_at) for t in bars]
        fig.add_bar(
            orientation="h",
            base=[s.isoformat() for s in starts],
            x=[max((e - s).total_seconds() * 1000, 1.0) for s, e in zip(starts, ends, strict=True)],
            y=[t.number for t in bars],
            marker={"color": colours[family]},
            name=family,
            text=[f"{_status(t)} {_hover(t)}" for t in bars],
            hovertemplate="trial %{y}<br>%{base} + %{x:.0f} ms<br>%{text}<extra></extra>",
        )
    fig.update_layout(
        title=f"Timeline: {search} (bars that overlap ran at the same time)",
        xaxis={"type": "date", "title": "time (UTC)"},
        yaxis={"title": "trial", "autorange": "reversed"},
        barmode="overlay",
    )
    return fig


def slice_figure(family: str, frame: pd.DataFrame, colour: str) -> Figure | None:
    """Score against each hyperparameter of one family (a slice plot per parameter)."""
    rows = frame[(frame["family"] == family) & frame["score"].notna()].dropna(axis=1, how="all")
    params = [c for c in rows.columns if c not in _FIXED_COLUMNS]
    if rows.empty or not params:
        return None
    cols = min(4, len(params))
    nrows = math.ceil(len(params) / cols)
    fig = make_subplots(rows=nrows, cols=cols, subplot_titles=params, shared_yaxes=True)
    for i, param in enumerate(params):
        values = rows[param].tolist()
        numeric = _is_numeric(values)
        fig.add_scatter(
            x=values if numeric else [_label(v) for v in values],
            y=rows["score"],
            mode="markers",
            marker={"color": colour, "opacity": 0.75},
            text=[f"{s} #{n}" for s, n in zip(rows["search"], rows["number"], strict=True)],
            hovertemplate=f"{param}=%{{x}}<br>score %{{y:.4f}}<br>%{{text}}<extra></extra>",
            showlegend=False,
            row=i // cols + 1,
            col=i % cols + 1,
        )
        positive = numeric and all(v is not None and v > 0 for v in values)
        if positive and max(values) / min(values) > 100:
            fig.update_xaxes(type="log", row=i // cols + 1, col=i % cols + 1)
        elif not numeric:
            fig.update_xaxes(type="category", row=i // cols + 1, col=i % cols + 1)
    fig.update_layout(
        title=f"Score against each hyperparameter: {family}",
        height=280 * nrows + 80,
        yaxis_title="score",
    )
    return fig


def parallel_figure(family: str, frame: pd.DataFrame) -> Figure | None:
    """Parallel coordinates of one family's hyperparameters, coloured by score."""
    rows = frame[(frame["family"] == family) & frame["score"].notna()].dropna(axis=1, how="all")
    params = [c for c in rows.columns if c not in _FIXED_COLUMNS]
    if len(rows) < 2 or not params:
        return None
    dimensions = []
    for param in params:
        values = rows[param]
        if _is_numeric(values.tolist()):
            dimensions.append({"label": param, "values": values.astype(float)})
        else:
            labels = sorted({_label(v) for v in values})
            codes = [labels.index(_label(v)) for v in values]
            dimensions.append(
                {
                    "label": param,
                    "values": codes,
                    "tickvals": list(range(len(labels))),
                    "ticktext": labels,
                }
            )
    dimensions.append({"label": "score", "values": rows["score"].astype(float)})
    fig = go.Figure(
        go.Parcoords(
            line={"color": rows["score"].astype(float), "colorscale": "Viridis", "showscale": True},
            dimensions=dimensions,
        )
    )
    fig.update_layout(title=f"Hyperparameters and score: {family}")
    return fig


_FIXED_COLUMNS = ("search", "number", "family", "status", "score", "score_std", "fit_seconds")


def families_figure(
    trials: Sequence[TrialRecord], card: dict[str, Any], colours: dict[str, str]
) -> Figure | None:
    """Scores per family per search (box + points), with each outer fold's held-out score."""
    scored = [t for t in trials if _has_score(t) and _status(t) == TrialStatus.OK]
    if not scored:
        return None
    fig = go.Figure()
    order = _search_order(trials)
    for family in sorted({t.family for t in scored}):
        points = [t for t in scored if t.family == family]
        fig.add_box(
            x=[t.search for t in points],
            y=[t.score for t in points],
            name=family,
            marker_color=colours[family],
            boxpoints="all",
            jitter=0.3,
        )
    folds = (card.get("metrics") or {}).get("outer_folds") or []
    if folds:
        labels = [_outer_label(f["fold"], order) for f in folds]
        fig.add_scatter(
            x=labels,
            y=[f.get("score") for f in folds],
            mode="markers",
            marker={"symbol": "star", "size": 14, "color": "black"},
            name="outer-fold held-out score",
            text=[f"winner: {f.get('family')}" for f in folds],
            hovertemplate="%{x}<br>held-out %{y:.4f}<br>%{text}<extra></extra>",
        )
    fig.update_layout(
        boxmode="group",
        title="Family comparison: inner-CV scores per search (stars: outer-fold held-out score)",
        xaxis={"title": "search", "categoryorder": "array", "categoryarray": order},
        yaxis_title="score",
    )
    return fig


def _outer_label(fold: Any, order: list[str]) -> str:
    """Maps an outer fold number onto its search label (``outer-1``...), whatever the base."""
    outer = [label for label in order if not label.startswith("final")]
    for label in outer:
        if re.findall(r"\d+", label) == [str(fold)]:
            return label
    return f"outer-{fold}"


# --- winner plots ----------------------------------------------------------------------------
def importance_frame(inputs: ReportInputs, seconds: float | None = None) -> pd.DataFrame | None:
    """Permutation importance of the raw input columns on the held-out test rows.

    At most :data:`tunelab.importance.MAX_PERMUTED_COLUMNS` columns are permuted (the ones the
    model's output follows most), so the cost is bounded by the table's shape. With
    ``seconds`` (the time it may take), one scoring pass is timed first and the computation
    shrinks to fit: one repeat instead of :data:`IMPORTANCE_REPEATS`, then fewer rows; below
    :data:`IMPORTANCE_MIN_ROWS` rows it is left out (None, with a note in ``inputs.notes``).
    What was done is recorded in the frame's ``attrs``.
    """
    X, y = inputs.X_test, inputs.y_test
    if len(X) > IMPORTANCE_MAX_ROWS:
        X = X.sample(IMPORTANCE_MAX_ROWS, random_state=0)
        y = y.loc[X.index]
    scoring = inputs.card.get("metric")
    seed = int(inputs.card.get("seed") or 0)
    repeats = IMPORTANCE_REPEATS
    columns = columns_to_permute(inputs.model, X)
    weight_column = (inputs.card.get("metrics") or {}).get("weighted_by")
    if seconds is not None:
        try:
            one_pass = _timed_score(inputs.model, X, y, scoring)
        except ValueError:  # e.g. roc_auc on a test set that lacks a class: default score
            scoring = None
            one_pass = _timed_score(inputs.model, X, y, scoring)
        if one_pass * (1 + len(columns) * repeats) > seconds:
            repeats = 1
            rows = int(len(X) * seconds / max(one_pass * (1 + len(columns)), 1e-9))
            if rows < min(IMPORTANCE_MIN_ROWS, len(X)):
                inputs.notes.append(
                    f"importance: left out to end within the time budget (one pass over "
                    f"{len(X)} rows took {one_pass:.2f}s; {seconds:.1f}s were left for it)"
                )
                return None
            if rows < len(X):
                X = X.sample(rows, random_state=0)
                y = y.loc[X.index]
    # A weighted run's importance is measured with the same weights as its scores.
    weights = X[weight_column].to_numpy(dtype=float) if weight_column in X.columns else None
    try:
        result = _permute(inputs.model, X, y, scoring, columns, repeats, seed, weights)
    except ValueError:  # e.g. roc_auc on a test set that lacks a class: fall back to default
        scoring = None
        result = _permute(inputs.model, X, y, scoring, columns, repeats, seed, weights)
    frame = pd.DataFrame(
        {
            "column": result.columns,
            "importance_mean": result.means,
            "importance_std": result.stds,
        }
    )
    frame.attrs.update(
        scoring=scoring or "default score",
        rows=len(X),
        repeats=repeats,
        evaluations=result.evaluations,
        columns=inputs.X_test.shape[1],
    )
    if len(columns) < inputs.X_test.shape[1]:
        inputs.notes.append(
            f"importance: {len(columns)} of {inputs.X_test.shape[1]:,} columns permuted (the "
            "ones the model's output follows most on the test rows), to bound its cost"
        )
    if repeats < IMPORTANCE_REPEATS:
        inputs.notes.append(
            f"importance: {repeats} repeat on {len(X)} of {len(inputs.X_test)} test rows, to "
            "end within the time budget"
        )
    return frame.sort_values("importance_mean", ascending=False, ignore_index=True)


def _permute(
    model: Any,
    X: pd.DataFrame,
    y: pd.Series,
    scoring: str | None,
    columns: list[str],
    repeats: int,
    seed: int,
    weights: np.ndarray | None = None,
) -> Importance:
    from sklearn.metrics import check_scoring

    scorer = check_scoring(model, scoring)
    classification = getattr(model, "classes_", None) is not None
    return permutation_importance(
        model, X, y, scorer, columns, repeats, seed, classification, sample_weight=weights
    )


def _timed_score(model: Any, X: pd.DataFrame, y: pd.Series, scoring: str | None) -> float:
    """Seconds one scoring pass over ``X`` takes (the unit of permutation importance)."""
    from time import perf_counter

    from sklearn.metrics import check_scoring

    scorer = check_scoring(model, scoring)
    start = perf_counter()
    scorer(model, X, y)
    return perf_counter() - start


def importance_figure(frame: pd.DataFrame) -> Figure:
    shown = frame.head(30).iloc[::-1]
    fig = go.Figure(
        go.Bar(
            x=shown["importance_mean"],
            y=shown["column"],
            orientation="h",
            error_x={"type": "data", "array": shown["importance_std"]},
        )
    )
    fig.update_layout(
        title=(
            f"Permutation importance on {frame.attrs.get('rows', len(frame))} held-out test "
            f"rows ({frame.attrs['scoring']}, {frame.attrs.get('repeats', IMPORTANCE_REPEATS)} "
            "repeats)"
        ),
        xaxis_title="drop in score when the column is shuffled",
        height=max(300, 22 * len(shown) + 120),
    )
    return fig


def classification_figures(inputs: ReportInputs) -> dict[str, Figure]:
    from sklearn.metrics import (
        auc,
        confusion_matrix,
        precision_recall_curve,
        roc_curve,
    )

    model, X, y = inputs.model, inputs.X_test, inputs.y_test
    classes = list(model.classes_)
    predicted = model.predict(X)
    matrix = confusion_matrix(y, predicted, labels=classes)
    names = [str(c) for c in classes]
    figures: dict[str, Figure] = {
        "confusion": go.Figure(
            go.Heatmap(
                z=matrix,
                x=names,
                y=names,
                colorscale="Blues",
                text=matrix,
                texttemplate="%{text}",
                hovertemplate="actual %{y}<br>predicted %{x}<br>%{z} rows<extra></extra>",
            )
        ).update_layout(
            title="Confusion matrix (held-out test)",
            xaxis={"title": "predicted", "type": "category"},
            yaxis={"title": "actual", "type": "category", "autorange": "reversed"},
        )
    }
    if not hasattr(model, "predict_proba"):
        inputs.notes.append("ROC/PR curves: the model has no predict_proba")
        return figures
    proba = np.asarray(model.predict_proba(X))
    targets = (
        [(classes[1], proba[:, 1])]
        if len(classes) == 2
        else list(zip(classes, proba.T, strict=True))
    )
    roc, pr = go.Figure(), go.Figure()
    actual = np.asarray(y)
    for label, scores in targets:
        positive = actual == label
        if positive.all() or not positive.any():
            inputs.notes.append(f"ROC/PR for class {label!r}: the test rows hold only one side")
            continue
        fpr, tpr, _ = roc_curve(positive, scores)
        roc.add_scatter(x=fpr, y=tpr, mode="lines", name=f"{label} (AUC {auc(fpr, tpr):.3f})")
        precision, recall, _ = precision_recall_curve(positive, scores)
        pr.add_scatter(x=recall, y=precision, mode="lines", name=f"{label}")
    roc.add_scatter(
        x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dot", "color": "grey"}, name="chance"
    )
    scope = "positive class" if len(classes) == 2 else "one-vs-rest per class"
    roc.update_layout(
        title=f"ROC curve (held-out test, {scope})",
        xaxis_title="false positive rate",
        yaxis_title="true positive rate",
    )
    pr.update_layout(
        title=f"Precision-recall curve (held-out test, {scope})",
        xaxis_title="recall",
        yaxis_title="precision",
    )
    figures["roc"] = roc
    figures["pr"] = pr
    return figures


def regression_figures(inputs: ReportInputs) -> dict[str, Figure]:
    actual = np.asarray(inputs.y_test, dtype=float)
    predicted = np.asarray(inputs.model.predict(inputs.X_test), dtype=float).ravel()
    low, high = float(min(actual.min(), predicted.min())), float(max(actual.max(), predicted.max()))
    pva = go.Figure()
    pva.add_scatter(x=actual, y=predicted, mode="markers", name="test rows", opacity=0.7)
    pva.add_scatter(
        x=[low, high],
        y=[low, high],
        mode="lines",
        name="perfect",
        line={"dash": "dot", "color": "grey"},
    )
    pva.update_layout(
        title="Predicted against actual (held-out test)",
        xaxis_title="actual",
        yaxis_title="predicted",
    )
    residuals = go.Figure()
    residuals.add_scatter(
        x=predicted, y=actual - predicted, mode="markers", opacity=0.7, name="residual"
    )
    residuals.add_hline(y=0, line_dash="dot", line_color="grey")
    residuals.update_layout(
        title="Residuals (actual - predicted) against predicted (held-out test)",
        xaxis_title="predicted",
        yaxis_title="residual",
    )
    return {"predicted_vs_actual": pva, "residuals": residuals}


# --- public API ------------------------------------------------------------------------------
def build_figures(inputs: ReportInputs) -> dict[str, Figure]:
    """All plots, keyed ``history/<search>``, ``timeline/<search>``, ``slices/<family>``,
    ``parallel/<family>``, ``families``, ``importance``, then ``confusion``/``roc``/``pr``
    (classification) or ``predicted_vs_actual``/``residuals`` (regression). Plots that cannot
    be drawn are listed in ``inputs.notes`` instead of raising."""
    inputs.notes.clear()
    figures: dict[str, Figure] = {}
    colours = _family_colours(inputs.trials)
    frame = trials_frame(inputs.trials)

    def attempt(label: str, make: Callable[[], Any]) -> Any:
        try:
            return make()
        except Exception as exc:  # a report never fails a run that produced a model
            warnings.warn(f"report: {label} not drawn: {exc}", stacklevel=3)
            inputs.notes.append(f"{label}: {type(exc).__name__}: {exc}")
            return None

    for search in _search_order(inputs.trials):
        chosen = [t for t in inputs.trials if t.search == search]
        fig = attempt(f"history {search}", partial(history_figure, search, chosen, colours))
        if fig is not None:
            figures[f"history/{search}"] = fig
        fig = attempt(f"timeline {search}", partial(timeline_figure, search, chosen, colours))
        if fig is not None:
            figures[f"timeline/{search}"] = fig
    if not frame.empty:
        for family in sorted(frame["family"].unique()):
            makers: tuple[tuple[str, Callable[[], Any]], ...] = (
                ("slices", partial(slice_figure, family, frame, colours[family])),
                ("parallel", partial(parallel_figure, family, frame)),
            )
            for kind, maker in makers:
                fig = attempt(f"{kind} {family}", maker)
                if fig is not None:
                    figures[f"{kind}/{family}"] = fig
    if inputs.card.get("drift"):
        fig = attempt("drift", lambda: drift_figure(inputs.card["drift"]))
        if fig is not None:
            figures["drift"] = fig
    fig = attempt("families", lambda: families_figure(inputs.trials, inputs.card, colours))
    if fig is not None:
        figures["families"] = fig
    if inputs.model is not None and len(inputs.X_test):
        task = inputs.card.get("task")
        plots: Callable[[ReportInputs], dict[str, Figure]] = (
            classification_figures if task in CLASSIFICATION_TASKS else regression_figures
        )
        # The test plots are cheap and always drawn; the importance, the costly part, then
        # gets what is left of the run's budget (all it needs without one).
        test_plots = attempt("held-out test plots", lambda: plots(inputs)) or {}
        budget = (inputs.card.get("parameters") or {}).get("time_budget")
        seconds = seconds_left(budget, CLOSING_SECONDS + RENDER_SECONDS)
        importance = attempt("importance", lambda: importance_frame(inputs, seconds))
        if importance is not None:
            figures["importance"] = importance_figure(importance)
        figures.update(test_plots)
    return figures


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return html.escape(str(value))


def _metric_label(card: dict[str, Any]) -> str:
    weighted_by = (card.get("metrics") or {}).get("weighted_by")
    metric = str(card.get("metric"))
    return f"{metric} (weighted by {weighted_by})" if weighted_by else metric


def _interval_row(outer: dict[str, Any]) -> list[tuple[str, str]]:
    """The card's interval for a new held-out score (cards before it existed have none)."""
    if "interval_low" not in outer:
        return []
    level = round(100 * outer.get("interval_level", 0.95))
    label = f"{level}% interval for a new held-out score"
    return [(label, f"{_fmt(outer['interval_low'])} – {_fmt(outer['interval_high'])}")]


def _card_html(inputs: ReportInputs) -> str:
    card = inputs.card
    metrics = card.get("metrics") or {}
    outer = metrics.get("outer_cv") or {}
    data = card.get("data") or {}
    best = card.get("best") or {}
    title = inputs.name + (f" v{inputs.version}" if inputs.version is not None else "")
    statuses = pd.Series([_status(t) for t in inputs.trials], dtype=object).value_counts()
    rows = [
        ("task", card.get("task")),
        ("target", card.get("target")),
        ("metric", _metric_label(card)),
        ("seed", card.get("seed")),
        ("run id", card.get("run_id")),
        *((f"data: {k}", v) for k, v in data.items()),
    ]
    estimate = [
        ("nested CV mean ± std", f"{_fmt(outer.get('mean'))} ± {_fmt(outer.get('std'))}"),
        ("outer-fold range", f"{_fmt(outer.get('min'))} – {_fmt(outer.get('max'))}"),
        *_interval_row(outer),
        ("outer-fold scores", ", ".join(_fmt(s) for s in outer.get("scores") or [])),
        ("held-out test score", _fmt(metrics.get("test_score"))),
        ("final search best inner CV", _fmt(metrics.get("final_inner_cv"))),
        ("trials", ", ".join(f"{n} {s}" for s, n in statuses.items()) or "none"),
    ]

    def table(pairs: list[tuple[str, Any]]) -> str:
        body = "".join(f"<tr><th>{html.escape(k)}</th><td>{_fmt(v)}</td></tr>" for k, v in pairs)
        return f"<table>{body}</table>"

    estimate_html = "".join(f"<tr><th>{html.escape(k)}</th><td>{v}</td></tr>" for k, v in estimate)
    # An ensemble shows its members (family, weight, configuration); a single winner its own.
    shown = best.get("ensemble") or best.get("config")
    config = html.escape(json.dumps(shown, indent=2, default=str))
    return f"""<h1>{html.escape(title)}</h1>
<div class="cards">
<section><h2>Data</h2>{table(rows)}</section>
<section><h2>Estimate</h2><table>{estimate_html}</table></section>
<section><h2>Winner: {html.escape(str(best.get("family")))}</h2><pre>{config}</pre></section>
</div>"""


_WINNER_KEYS = ("importance", "confusion", "roc", "pr", "predicted_vs_actual", "residuals")
_SECTIONS = (
    ("Data drift", ("drift",)),
    ("Search history", ("history/",)),
    ("Timeline of trials", ("timeline/",)),
    ("Hyperparameters", ("slices/", "parallel/")),
    ("Families", ("families",)),
    ("Winner on the held-out test rows", _WINNER_KEYS),
)

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#222}
.cards{display:flex;flex-wrap:wrap;gap:1.5rem}.cards section{flex:1 1 320px}
table{border-collapse:collapse}th,td{padding:.2rem .6rem;border-bottom:1px solid #ddd;
text-align:left;vertical-align:top}pre{background:#f6f6f6;padding:.6rem;overflow:auto}
.plot{margin:1rem 0}.notes{color:#8a5300}
"""


def render_html(inputs: ReportInputs, figures: dict[str, Figure] | None = None) -> str:
    """A complete HTML page (model card, then the plots) with plotly.js inlined once."""
    from plotly.offline import get_plotlyjs

    figures = build_figures(inputs) if figures is None else figures
    parts = [_card_html(inputs), retraining_html(inputs.card, inputs.name, inputs.version)]
    for heading, prefixes in _SECTIONS:
        keys = [k for k in figures if any(k == p or k.startswith(p) for p in prefixes)]
        if prefixes[0] == "importance":  # keep the listed order for the winner section
            keys = [p for p in prefixes if p in figures]
        if not keys:
            continue
        parts.append(f"<h2>{html.escape(heading)}</h2>")
        for key in keys:
            div = figures[key].to_html(full_html=False, include_plotlyjs=False, div_id=_div_id(key))
            parts.append(f'<div class="plot" data-figure="{html.escape(key)}">{div}</div>')
    if inputs.notes:
        items = "".join(f"<li>{html.escape(n)}</li>" for n in inputs.notes)
        parts.append(f'<h2>Notes</h2><ul class="notes">{items}</ul>')
    title = html.escape(inputs.name + (f" v{inputs.version}" if inputs.version else ""))
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>tunelab report: {title}</title><style>{_STYLE}</style>"
        f'<script type="text/javascript">{get_plotlyjs()}</script></head>'
        f"<body>{''.join(parts)}</body></html>"
    )


def _div_id(key: str) -> str:
    return "fig-" + re.sub(r"[^A-Za-z0-9_-]+", "-", key)

"""The run report: real fits, every plot kind per task, and the page rendered in Chromium."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.browser import BROWSER_ARGS, CHROMIUM
from tests.report_inputs import make_inputs
from tunelab.report import build_figures, render_html, trials_frame

TASK_PLOTS = {
    "binary": {"confusion", "roc", "pr"},
    "multiclass": {"confusion", "roc", "pr"},
    "regression": {"predicted_vs_actual", "residuals"},
}


@pytest.fixture(scope="module", params=list(TASK_PLOTS))
def inputs(request):
    return make_inputs(request.param)


@pytest.fixture(scope="module")
def figures(inputs):
    return build_figures(inputs)


def test_every_plot_kind_is_built(inputs, figures):
    task = inputs.card["task"]
    searches = {t.search for t in inputs.trials}
    assert {f"history/{s}" for s in searches} <= set(figures)
    assert {"slices/linear", "slices/knn", "parallel/linear", "families", "importance"} <= set(
        figures
    )
    assert TASK_PLOTS[task] <= set(figures)
    assert inputs.notes == []
    # permutation importance is over the raw input columns of the test rows
    assert set(figures["importance"].data[0].y) == set(inputs.X_test.columns)
    if task == "multiclass":  # one-vs-rest: one ROC curve per class plus the chance line
        assert len(figures["roc"].data) == inputs.y_test.nunique() + 1


def test_unknown_statuses_and_unscored_trials_do_not_break_the_report(inputs, figures):
    frame = trials_frame(inputs.trials)
    assert {"skipped", "mystery", "pruned", "cut"} <= set(frame["status"])
    assert frame.loc[frame["status"] == "mystery", "score"].isna().all()
    title = figures["history/final"].layout.title.text
    assert "1 mystery" in title and "1 skipped" in title and "1 cut" in title


def test_html_is_self_contained(inputs, figures):
    page = render_html(inputs, figures)
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r"<script[^>]+src=", page), "no external scripts (no CDN)"
    assert page.count("Plotly.newPlot") == len(figures)
    assert inputs.name in page and "held-out test score" in page


def test_report_renders_in_headless_chromium(tmp_path: Path):
    playwright = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (apt-get install chromium)")
    inputs = make_inputs("binary", trials_per_search=3)
    figures = build_figures(inputs)
    path = tmp_path / "report.html"
    path.write_text(render_html(inputs, figures), encoding="utf-8")
    expected = len(figures)
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        page = browser.new_page(viewport={"width": 1300, "height": 900})
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(path.as_uri())
        page.wait_for_function(
            f"document.querySelectorAll('div.plot .main-svg').length >= {expected}",
            timeout=20_000,
        )
        rendered = page.eval_on_selector_all(
            "div.plot", "els => els.filter(e => e.querySelector('.main-svg')).length"
        )
        traces = page.locator("div.plot .scatterlayer .trace, div.plot .heatmaplayer, "
                              "div.plot .barlayer .trace, div.plot .parcoords").count()  # fmt: skip
        browser.close()
    assert rendered == expected
    assert traces > expected  # the plots hold data, not only empty axes
    assert errors == []
    assert all(url.startswith(("file:", "data:", "about:")) for url in requests), requests


def test_importance_cost_is_bounded_by_the_tables_shape():
    """150 x 2,000: at most MAX_PERMUTED_COLUMNS columns are permuted (issue 19: every column
    of a 5,000-column table took more than nine minutes), chosen as the columns the model's
    output follows most on the test rows, and all copies are predicted in a few calls."""
    from tunelab.importance import MAX_PERMUTED_COLUMNS
    from tunelab.pipelines import build_pipeline, infer_schema
    from tunelab.report import IMPORTANCE_REPEATS, ReportInputs, importance_frame

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(150, 2000)), columns=[f"c{i}" for i in range(2000)])
    X["c3"] = 1.0  # constant: follows nothing
    y = pd.Series(np.where(X["c7"] + X["c1500"] > 0, "yes", "no"), name="y")
    schema = infer_schema(X.iloc[:120], y.iloc[:120], "binary")
    config = {"model": {"family": "linear", "C": 1.0}, "feature_selection": {"method": "none"}}
    model = build_pipeline(config, schema, seed=0).fit(X.iloc[:120], y.iloc[:120])
    X_test, y_test = X.iloc[120:], y.iloc[120:]
    calls = []
    real = model.predict_proba

    def counted(frame):
        calls.append(len(frame))
        return real(frame)

    model.predict_proba = counted
    card = {"metric": "roc_auc", "seed": 0, "task": "binary"}
    inputs = ReportInputs(card, [], model, X_test, y_test, name="wide")
    frame = importance_frame(inputs)
    assert frame is not None and len(frame) == MAX_PERMUTED_COLUMNS
    assert frame.attrs["evaluations"] == 1 + MAX_PERMUTED_COLUMNS * IMPORTANCE_REPEATS
    assert len(calls) <= 4 and sum(calls) <= len(X_test) * (frame.attrs["evaluations"] + 1)
    output = real(X_test)[:, 1]
    follows = X_test.apply(lambda c: abs(np.corrcoef(c, output)[0, 1]) if c.std() else 0.0)
    assert set(frame["column"]) == set(follows.nlargest(MAX_PERMUTED_COLUMNS).index)
    assert any("50 of 2,000 columns permuted" in note for note in inputs.notes)

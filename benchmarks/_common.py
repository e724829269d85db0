"""Helpers shared by the benchmark scripts (datasets, tables, timing, memory).

Not a test module and not part of the package: each script imports it as ``_common`` because
``python benchmarks/X.py`` puts ``benchmarks/`` first on ``sys.path``.
"""

from __future__ import annotations

import os
import platform
import resource
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:  # flows/ is importable from a checkout even if not installed
    sys.path.insert(0, str(REPO_ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

#: Datasets that ship with scikit-learn or tunelab, so every benchmark runs offline.
OFFLINE_DATASETS = ("breast_cancer", "wine", "diabetes", "digits", "churn")


def load_dataset(name: str) -> tuple[pd.DataFrame, str]:
    """A whole table (features and target) and the target column's name."""
    if name == "churn":
        from tunelab.cli import example_data_path

        return pd.read_csv(example_data_path()), "churned"
    from sklearn import datasets

    loaders = {
        "breast_cancer": datasets.load_breast_cancer,
        "wine": datasets.load_wine,
        "diabetes": datasets.load_diabetes,
        "digits": datasets.load_digits,
    }
    if name not in loaders:
        raise SystemExit(f"unknown dataset {name!r}; choose from {', '.join(OFFLINE_DATASETS)}")
    frame = loaders[name](as_frame=True).frame
    return frame, "target"


def synthetic_frame(
    rows: int, columns: int, task: str = "binary", seed: int = 0, informative: int = 10
) -> tuple[pd.DataFrame, str]:
    """A dense float64 table: feature columns ``f0..fN`` plus a ``target`` column."""
    from sklearn.datasets import make_classification, make_regression

    informative = min(informative, columns)
    if task == "regression":
        X, y = make_regression(
            n_samples=rows,
            n_features=columns,
            n_informative=informative,
            noise=10.0,
            random_state=seed,
        )
    else:
        X, y = make_classification(
            n_samples=rows,
            n_features=columns,
            n_informative=informative,
            n_redundant=min(5, columns - informative),
            n_classes=2 if task == "binary" else 3,
            flip_y=0.05,
            random_state=seed,
        )
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(columns)])
    frame["target"] = y
    return frame, "target"


def format_table(rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None) -> str:
    """A plain fixed-width table; floats get 4 significant decimals."""
    if not rows:
        return "(no rows)"
    columns = list(columns or rows[0].keys())

    def cell(value: Any) -> str:
        if value is None:
            return "-"
        if isinstance(value, (float, np.floating)):
            if not np.isfinite(value):
                return str(value)
            return f"{value:.4f}" if abs(value) < 1000 else f"{value:.0f}"
        return str(value)

    body = [[cell(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in body)) for i, c in enumerate(columns)]
    line = "  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))
    rule = "  ".join("-" * w for w in widths)
    out = [line, rule]
    out += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in body]
    return "\n".join(out)


def print_table(title: str, rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None):
    print(f"\n## {title}\n")
    print(format_table(rows, columns))
    sys.stdout.flush()


def machine_line() -> str:
    import sklearn

    return (
        f"machine: {os.cpu_count()} cores, {platform.machine()}, Python "
        f"{platform.python_version()}, scikit-learn {sklearn.__version__}, "
        f"nice {os.nice(0)}, load average {load_average()}\ntunelab at: {git_revision()}"
    )


def git_revision() -> str:
    """The tunelab commit measured (the code under test changes between runs)."""
    import subprocess

    try:
        out = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "log", "-1", "--format=%h %s"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "status", "--porcelain", "--", ".", ":!benchmarks"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{out}{' (+ uncommitted changes)' if dirty else ''}" or "unknown"


def load_average() -> str:
    """Other work on the machine (e.g. a test suite) slows every timing here: report it."""
    return "/".join(f"{v:.2f}" for v in os.getloadavg())


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mib() -> float:
    try:
        import psutil

        return psutil.Process().memory_info().rss / 2**20
    except ImportError:  # psutil is optional; fall back to /proc
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class Stopwatch:
    """``with Stopwatch() as sw: ...`` then ``sw.seconds``."""

    def __enter__(self) -> Stopwatch:
        self.start = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.start


def prefect_task_times(flow_run_id: Any) -> list[dict[str, Any]]:
    """Start/end of every task run of the flow run, as the Prefect API recorded them."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        flow_run = client.read_flow_run(flow_run_id)
        runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
        )
    origin = flow_run.start_time
    rows = []
    for run in sorted(runs, key=lambda r: r.start_time or origin):
        if run.start_time is None or run.end_time is None:
            continue
        rows.append(
            {
                "task run": run.name,
                "starts at s": (run.start_time - origin).total_seconds(),
                "ends at s": (run.end_time - origin).total_seconds(),
                "duration s": (run.end_time - run.start_time).total_seconds(),
            }
        )
    if flow_run.end_time is not None:
        rows.append(
            {
                "task run": "(flow run)",
                "starts at s": 0.0,
                "ends at s": (flow_run.end_time - origin).total_seconds(),
                "duration s": (flow_run.end_time - origin).total_seconds(),
            }
        )
    return rows


def search_settings(schema: Any, args: Any) -> Any:
    """The search the scripts' shared flags describe (--families --task --inner-folds ...)."""
    from tunelab.search import SearchSettings
    from tunelab.space import resolve_families

    return SearchSettings(
        schema=schema,
        families=tuple(resolve_families(args.families, args.task)),
        metric="roc_auc" if args.task == "binary" else "r2",
        inner_folds=args.inner_folds,
        max_evals=args.max_evals,
        seed=args.seed,
        n_jobs=args.n_jobs,
    )

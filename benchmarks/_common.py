"""Helpers shared by the benchmark scripts: datasets, timed subprocesses, tables, machine state.

Not a test module and not part of the package: each script imports it as ``_common`` because
``python benchmarks/X.py`` puts ``benchmarks/`` first on ``sys.path``. Nothing here
re-implements tunelab's procedure: the scripts call ``tunelab run`` (a subprocess),
``tunelab.train`` or ``tunelab.engine.train``.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

REPO_ROOT = Path(__file__).resolve().parent.parent
#: The real public tables (never copied into the repository); ``--data`` overrides.
DEFAULT_DATA_DIR = (REPO_ROOT / ".." / "shared" / "datasets").resolve()

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

# --------------------------------------------------------------------------- datasets


def read_manifest(data_dir: str | Path) -> list[dict[str, Any]]:
    """``manifest.json`` of the datasets folder: name, file, target, task per table."""
    path = Path(data_dir) / "manifest.json"
    if not path.is_file():
        raise SystemExit(f"no manifest.json in {data_dir} (pass --data PATH)")
    return json.loads(path.read_text())


def pick_datasets(data_dir: str | Path, names: str | None) -> list[dict[str, Any]]:
    entries = read_manifest(data_dir)
    if not names or names == "all":
        return entries
    wanted = [n.strip() for n in names.split(",") if n.strip()]
    by_name = {e["name"]: e for e in entries}
    unknown = [n for n in wanted if n not in by_name]
    if unknown:
        raise SystemExit(f"unknown dataset(s) {unknown}; manifest has {sorted(by_name)}")
    return [by_name[n] for n in wanted]


def synthetic_frame(
    rows: int, columns: int, task: str = "binary", seed: int = 0, informative: int = 10
) -> tuple[pd.DataFrame, str]:
    """A dense float64 table: feature columns ``f0..fN`` plus a ``target`` column."""
    from sklearn.datasets import make_classification, make_regression

    informative = min(informative, columns)
    if task == "regression":
        X, y = make_regression(
            n_samples=rows, n_features=columns, n_informative=informative, noise=10.0,
            random_state=seed,
        )  # fmt: skip
    else:
        X, y = make_classification(
            n_samples=rows, n_features=columns, n_informative=informative,
            n_redundant=min(5, columns - informative), n_classes=2 if task == "binary" else 3,
            flip_y=0.05, random_state=seed,
        )  # fmt: skip
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(columns)])
    frame["target"] = y
    return frame, "target"


def resampled_bank_churn(data_dir: str | Path, rows: int = 20_000, seed: int = 0) -> pd.DataFrame:
    """``bank_churn`` grown to ``rows`` rows: rows drawn with replacement (fixed seed), then
    Gaussian noise of 2% of the column's standard deviation added to every numeric column with
    more than 20 distinct values (CreditScore, Age, Balance, EstimatedSalary; integers stay
    integers; zero balances stay zero). Identifiers, categoricals, 0/1 flags and the target
    are copied as drawn."""
    frame = pd.read_csv(Path(data_dir) / "bank_churn.csv")
    rng = np.random.default_rng(seed)
    out = frame.iloc[rng.integers(0, len(frame), rows)].reset_index(drop=True)
    for column in ("CreditScore", "Age", "Balance", "EstimatedSalary"):
        values = out[column].astype(float)
        noisy = values + rng.normal(0.0, 0.02 * values.std(), rows) * (values != 0)
        if pd.api.types.is_integer_dtype(frame[column]):
            noisy = noisy.round().clip(lower=frame[column].min())
            out[column] = noisy.astype(frame[column].dtype)
        else:
            out[column] = noisy.clip(lower=0.0).round(2)
    out["RowNumber"] = np.arange(1, rows + 1)
    return out


# --------------------------------------------------------------------------- subprocesses


@dataclass
class Timed:
    """A command run to its exit, timed from outside (``perf_counter`` before spawn / after
    exit), with the machine's load average at start and end."""

    argv: list[str]
    returncode: int
    wall: float
    stdout: str
    stderr: str
    load_start: str
    load_end: str
    timed_out: bool = False
    #: ``time.time()`` at spawn, to place the command's own log timestamps.
    started: float = 0.0

    def tail(self, lines: int = 15) -> str:
        return "\n".join((self.stderr or self.stdout).strip().splitlines()[-lines:])


def run_timed(
    argv: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    timeout: float | None = None,
    cwd: str | Path | None = None,
) -> Timed:
    load_start = load_average()
    started = time.time()
    start = time.perf_counter()
    timed_out = False
    try:
        proc = subprocess.run(
            list(argv), capture_output=True, text=True, env=env, timeout=timeout, cwd=cwd
        )
        code, out, err = proc.returncode, proc.stdout, proc.stderr
    except subprocess.TimeoutExpired as exc:
        timed_out = True
        code = -9
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        err = exc.stderr.decode() if isinstance(exc.stderr, bytes) else (exc.stderr or "")
    wall = time.perf_counter() - start
    return Timed(list(argv), code, wall, out, err, load_start, load_average(), timed_out, started)


def tunelab_command() -> list[str]:
    """The installed ``tunelab`` console script, as a user types it."""
    found = shutil.which("tunelab")
    if not found:
        raise SystemExit("the tunelab command is not on PATH: pip install -e .")
    return [found]


def bench_env(prefect_home: str | Path | None = None) -> dict[str, str]:
    """The caller's environment; with ``prefect_home`` Prefect's embedded server keeps its
    SQLite database there instead of ~/.prefect (so test suites on the machine don't share it).

    This checkout comes first on ``PYTHONPATH``, so the ``tunelab`` command runs the code
    beside the script even where the editable install points at another copy (its console
    script and entry points are the same).
    """
    env = dict(os.environ)
    env.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO_ROOT), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
    )
    if prefect_home is not None:
        env["PREFECT_HOME"] = str(prefect_home)
    return env


def stop_shared_prefect_server(env: dict[str, str]) -> None:
    """Ends the local Prefect server the benchmark's runs shared (``flows.local_server``),
    so a benchmark leaves nothing running; its idle timeout would end it later anyway."""
    code = "from flows.local_server import stop_shared_server; stop_shared_server()"
    subprocess.run([sys.executable, "-c", code], env=env, check=False, timeout=60)


def registered_metadata(data_dir: str | Path, name: str) -> dict[str, Any] | None:
    """The latest registered version's metadata.json, read as a file (no tunelab import)."""
    root = Path(data_dir) / "registry" / name
    versions = sorted(root.glob("v*/metadata.json"), key=lambda p: int(p.parent.name[1:]))
    return json.loads(versions[-1].read_text()) if versions else None


# --------------------------------------------------------------------------- output


def format_table(rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None) -> str:
    """A plain fixed-width table; floats get 4 decimals."""
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
    out = [line.rstrip(), rule]
    out += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in body]
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
    try:
        out = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "log", "-1", "--format=%h %s"],
            capture_output=True, text=True, timeout=10,
        ).stdout.strip()  # fmt: skip
        dirty = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "status", "--porcelain", "--", ".", ":!benchmarks"],
            capture_output=True, text=True, timeout=10,
        ).stdout.strip()  # fmt: skip
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

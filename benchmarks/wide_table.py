"""A 150-row x 5,000-column table end to end (search, registration and report), timed.

Issue 19: with no time budget this table finished training and registration in about a
minute, then spent more than nine minutes on the report's permutation importance (every
column, three repeats). The report now permutes at most ``MAX_PERMUTED_COLUMNS`` columns,
so its cost is bounded by the table's shape. This runs the default ``tunelab run`` (Prefect,
report on, no time budget) as a user would and prints the wall time, the report's
importance step and the machine load.

    python benchmarks/wide_table.py [--rows 150] [--columns 5000] [--limit 180] [--log FILE]

``--log`` keeps the run's whole output; the summary names the seconds each model family
spent in trials (from ``leaderboard.csv``), so a slow run says where its time went.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from pathlib import Path

import pandas as pd
from _common import bench_env, registered_metadata, run_timed, synthetic_frame, tunelab_command

_STAMP = re.compile(r"^(\d\d):(\d\d):(\d\d)(?:\.(\d+))?")


def _seconds(line: str) -> float | None:
    match = _STAMP.match(line)
    if not match:
        return None
    hours, minutes, seconds, fraction = match.groups()
    return int(hours) * 3600 + int(minutes) * 60 + int(seconds) + float(f"0.{fraction or 0}")


def after_registration(log: str) -> dict[str, float | None]:
    """Seconds from the end of registration to the end of the report task and of the run,
    from the log's own timestamps (the part issue 19 found unbounded)."""
    marks: dict[str, float | None] = {"registered": None, "report": None, "done": None}
    for line in log.splitlines():
        if "register-model" in line and "Finished" in line:
            marks["registered"] = _seconds(line)
        elif "write-report" in line and "Finished" in line:
            marks["report"] = _seconds(line)
        elif "Done in" in line:
            marks["done"] = _seconds(line)
    start = marks["registered"]
    if start is None:
        return {"report_seconds": None, "after_registration_seconds": None}
    report, done = marks["report"], marks["done"]
    return {
        "report_seconds": round(report - start, 1) if report is not None else None,
        "after_registration_seconds": round(done - start, 1) if done is not None else None,
    }


def trial_seconds_by_family(leaderboard: Path) -> dict[str, float]:
    """Fit seconds per model family over every search's trials, largest first."""
    if not leaderboard.is_file():
        return {}
    trials = pd.read_csv(leaderboard)
    totals = trials.groupby("family")["fit_seconds"].sum().sort_values(ascending=False)
    return {family: round(float(seconds), 1) for family, seconds in totals.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=150)
    parser.add_argument("--columns", type=int, default=5000)
    parser.add_argument("--limit", type=float, default=180.0, help="seconds the run may take")
    parser.add_argument("--timeout", type=float, default=1200.0, help="seconds before it is killed")
    parser.add_argument("--extra", nargs="*", default=[], help="more tunelab run options")
    parser.add_argument("--log", type=Path, help="file to keep the run's whole output in")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tunelab-wide-") as tmp:
        frame, target = synthetic_frame(args.rows, args.columns, "binary", seed=0)
        data = Path(tmp) / "wide.csv"
        frame.to_csv(data, index=False)
        home = Path(tmp) / "home"
        argv = [*tunelab_command(), "run", "--data", str(data), "--target", target]
        argv += ["--data-dir", str(home), "--name", "wide", *args.extra]
        timed = run_timed(argv, env=bench_env(Path(tmp) / "prefect"), timeout=args.timeout)
        if args.log:
            args.log.write_text(timed.stdout + timed.stderr)
        report = home / "registry" / "wide" / "v1" / "report.html"
        metadata = registered_metadata(home, "wide") or {}
        summary = {
            "rows": args.rows,
            "columns": args.columns,
            "exit": timed.returncode,
            "wall_seconds": round(timed.wall, 1),
            "report": report.is_file(),
            "report_bytes": report.stat().st_size if report.is_file() else 0,
            "test_score": (metadata.get("metrics") or {}).get("test_score"),
            **after_registration(timed.stderr + timed.stdout),
            "trial_seconds_by_family": trial_seconds_by_family(report.with_name("leaderboard.csv")),
            "load_start": timed.load_start,
            "load_end": timed.load_end,
        }
        print(json.dumps(summary, indent=2))
        if timed.returncode != 0:
            print(timed.tail(30), file=sys.stderr)
        ok = timed.returncode == 0 and report.is_file() and timed.wall < args.limit
        print(f"{'PASS' if ok else 'FAIL'}: {timed.wall:.1f}s (limit {args.limit:.0f}s)")
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

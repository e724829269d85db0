"""A 150-row x 5,000-column table end to end (search, registration and report), timed.

Issue 19: with no time budget this table finished training and registration in about a
minute, then spent more than nine minutes on the report's permutation importance (every
column, three repeats). The report now permutes at most ``MAX_PERMUTED_COLUMNS`` columns,
so its cost is bounded by the table's shape. This runs the default ``tunelab run`` (Prefect,
report on, no time budget) as a user would and prints the wall time, the report's
importance step and the machine load.

    python benchmarks/wide_table.py [--rows 150] [--columns 5000] [--limit 180]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from _common import bench_env, registered_metadata, run_timed, synthetic_frame, tunelab_command


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=150)
    parser.add_argument("--columns", type=int, default=5000)
    parser.add_argument("--limit", type=float, default=180.0, help="seconds the run may take")
    parser.add_argument("--extra", nargs="*", default=[], help="more tunelab run options")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tunelab-wide-") as tmp:
        frame, target = synthetic_frame(args.rows, args.columns, "binary", seed=0)
        data = Path(tmp) / "wide.csv"
        frame.to_csv(data, index=False)
        home = Path(tmp) / "home"
        argv = [*tunelab_command(), "run", "--data", str(data), "--target", target]
        argv += ["--data-dir", str(home), "--name", "wide", *args.extra]
        timed = run_timed(argv, env=bench_env(Path(tmp) / "prefect"), timeout=args.limit * 3)
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

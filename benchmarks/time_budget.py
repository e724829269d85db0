"""Does ``tunelab run --time-budget B`` return within B seconds, as the user sees it?

Each run is the installed ``tunelab`` command in its own subprocess, timed from outside (from
spawn to exit): the default mode (a Prefect flow run with Prefect's embedded local server,
whose start-up counts against the budget) and, for comparison, ``--no-prefect``. With
``--api`` each seed also runs ``tunelab.train(path, target=..., time_budget=B)`` (defaults:
Prefect on) in a new Python process; its budget is from the call to its return, timed around
the call inside that process (the process's own wall time is shown beside it). Budgets 10,
30 and 120 s on a small table (default ``mpg``, 398 rows) and on a 20,000-row table
synthesised from ``bank_churn`` (rows drawn with replacement with seed 0, 2% Gaussian noise on
the four continuous columns; see ``_common.resampled_bank_churn``), 2 seeds. Prints wall time,
ratio to the budget and whether it is within +10% and at most +3 s of the budget
(``wall <= min(1.1 B, B + 3)``); with Prefect also when the flow run began (seconds from
spawn: the start-up cost before any model work) and whether the final search ran or was
skipped for lack of time. Also the median wall time of ``tunelab --help`` (5 runs).

Prefect keeps its SQLite database in a fresh ``PREFECT_HOME`` under the work folder (so a
test suite on the machine does not share it); the first Prefect run creates that database and
is reported separately as the "first start" (not counted in the table).
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

import _common


def within(wall: float, budget: float) -> bool:
    return wall <= min(1.1 * budget, budget + 3.0)


def log_seconds(timed: _common.Timed, pattern: str) -> float | None:
    """Seconds from spawn to the first Prefect log line matching ``pattern`` (its
    ``HH:MM:SS.fff`` local time placed on the spawn's date), e.g. when the flow run began:
    the start-up cost before any model work."""
    for line in timed.stderr.splitlines():
        found = re.match(r"(\d\d):(\d\d):(\d\d\.\d+) \|", line)
        if found and re.search(pattern, line):
            spawn = datetime.fromtimestamp(timed.started)
            hours, minutes, seconds = int(found[1]), int(found[2]), float(found[3])
            at = spawn.replace(hour=hours, minute=minutes, second=0, microsecond=0)
            return (at.timestamp() + seconds - timed.started) % 86400
    return None


def help_seconds(repeats: int) -> list[float]:
    argv = [*_common.tunelab_command(), "--help"]
    return [_common.run_timed(argv).wall for _ in range(repeats)]


#: ``tunelab.train`` as a notebook calls it, timed from the call to its return.
API_SCRIPT = """
import sys, time
import tunelab
data, target, budget, seed, data_dir, name = sys.argv[1:]
called = time.time()
tunelab.train(data, target=target, time_budget=float(budget), seed=int(seed), n_jobs=2,
              data_dir=data_dir, name=name)
print(f"call seconds: {time.time() - called:.3f}")
"""

MODES = ("prefect", "no-prefect", "api")


def command(
    mode: str, data: Path, target: str, budget: float, seed: int, home: Path, name: str
) -> list[str]:
    """The user's call for ``mode``: the CLI with or without Prefect, or ``tunelab.train``."""
    if mode == "api":
        args = [str(data), target, f"{budget:g}", str(seed), str(home), name]
        return [sys.executable, "-c", API_SCRIPT, *args]
    argv = [
        *_common.tunelab_command(), "run", "--data", str(data), "--target", target,
        "--time-budget", f"{budget:g}", "--n-jobs", "2", "--seed", str(seed),
        "--data-dir", str(home), "--name", name,
    ]  # fmt: skip
    return argv + (["--no-prefect"] if mode == "no-prefect" else [])


def run_one(
    data: Path, target: str, budget: float, seed: int, mode: str, work: Path, tag: str,
    env: dict[str, str],
) -> dict[str, Any]:  # fmt: skip
    short = {"prefect": "p", "no-prefect": "np", "api": "api"}[mode]
    name = re.sub(r"[^a-z0-9-]", "-", f"{tag}-{int(budget)}-s{seed}-{short}")
    argv = command(mode, data, target, budget, seed, work / "registry-home", name)
    timed = _common.run_timed(argv, env=env, timeout=budget * 3 + 300)
    logs = work / "logs"
    logs.mkdir(exist_ok=True)
    (logs / f"{name}.stdout.txt").write_text(timed.stdout)
    (logs / f"{name}.stderr.txt").write_text(timed.stderr)
    reported = re.search(r"(?:wall time|call seconds): ([0-9.]+)s?", timed.stdout)
    # The API's budget runs from the call; the CLI's from the process's spawn.
    judged = float(reported.group(1)) if mode == "api" and reported else timed.wall
    flow_start = log_seconds(timed, r"Beginning flow run")
    final_skipped = "No time left for the final search" in timed.stderr
    meta = (
        _common.registered_metadata(work / "registry-home", name) if timed.returncode == 0 else None
    )
    row = {
        "table": tag,
        "mode": mode,
        "seed": seed,
        "budget s": budget,
        "wall s": timed.wall,
        "ratio": judged / budget,
        "within": "yes" if within(judged, budget) else "NO",
        "self-reported s": float(reported.group(1)) if reported else None,
        "flow start s": flow_start,
        "final search": "skipped" if final_skipped else "ran",
        "trials": meta["trials"]["total"] if meta else None,
        "winner": meta["best"]["family"] if meta else None,
        "exit": timed.returncode,
        "load start": timed.load_start,
        "load end": timed.load_end,
    }
    status = "ok" if timed.returncode == 0 else f"FAILED exit {timed.returncode}"
    print(
        f"  {tag} {row['mode']} seed {seed} budget {budget:g}s -> {judged:.1f}s "
        f"(ratio {row['ratio']:.3f}, {status}; load {timed.load_start} -> {timed.load_end})",
        flush=True,
    )
    if timed.returncode != 0:
        print("    command: " + " ".join(argv) + "\n    " + timed.tail().replace("\n", "\n    "))
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budgets", type=float, nargs="+", default=[10.0, 30.0, 120.0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--data", default=str(_common.DEFAULT_DATA_DIR), help="datasets folder")
    parser.add_argument("--small", default="mpg", help="small table from the manifest")
    parser.add_argument("--big-rows", type=int, default=20_000, help="0 skips the big table")
    parser.add_argument(
        "--no-prefect-seeds", type=int, nargs="*", default=[0],
        help="seeds also run with --no-prefect (default: the first seed only)",
    )  # fmt: skip
    parser.add_argument("--tables", nargs="+", default=["small", "big"], choices=["small", "big"])
    parser.add_argument("--help-repeats", type=int, default=5)
    parser.add_argument(
        "--api", action="store_true", help="also time tunelab.train(...) from call to return"
    )
    args = parser.parse_args()

    print("# time_budget")
    print(_common.machine_line())
    work = Path(tempfile.mkdtemp(prefix="tunelab-bench-budget-"))
    env = _common.bench_env(prefect_home=work / "prefect-home")

    helps = help_seconds(args.help_repeats)
    print(
        f"tunelab --help: median {statistics.median(helps):.3f}s over {len(helps)} runs "
        f"({', '.join(f'{s:.3f}' for s in helps)})",
        flush=True,
    )

    tables: list[tuple[str, Path, str]] = []
    if "small" in args.tables:
        entry = _common.pick_datasets(args.data, args.small)[0]
        tables.append((entry["name"], Path(args.data) / entry["file"], entry["target"]))
    if "big" in args.tables and args.big_rows > 0:
        big = work / f"bank_churn_{args.big_rows}.csv"
        _common.resampled_bank_churn(args.data, args.big_rows, seed=0).to_csv(big, index=False)
        tables.append((f"bank_churn_{args.big_rows // 1000}k", big, "Exited"))
    print(f"tables: {', '.join(f'{t[0]} ({t[1].name}, target {t[2]})' for t in tables)}")

    first = run_one(tables[0][1], tables[0][2], 10.0, 0, "prefect", work, "first-start", env)
    print(
        f"first start (creates Prefect's database): {first['wall s']:.1f}s for a 10s budget",
        flush=True,
    )

    rows = []
    for seed in args.seeds:
        for tag, path, target in tables:
            for budget in args.budgets:
                modes = ["prefect"] + ["no-prefect"] * (seed in args.no_prefect_seeds)
                for mode in modes + ["api"] * args.api:
                    rows.append(run_one(path, target, budget, seed, mode, work, tag, env))

    _common.print_table(
        "Wall time of `tunelab run` vs its --time-budget (timed from outside)", rows
    )
    summary = []
    for tag, _, _ in tables:
        for mode in MODES:
            for budget in args.budgets:
                got = [
                    r for r in rows if (r["table"], r["mode"], r["budget s"]) == (tag, mode, budget)
                ]
                if not got:
                    continue
                summary.append(
                    {
                        "table": tag,
                        "mode": mode,
                        "budget s": budget,
                        "runs": len(got),
                        "mean wall s": statistics.mean(r["wall s"] for r in got),
                        "max ratio": max(r["ratio"] for r in got),
                        "mean ratio": statistics.mean(r["ratio"] for r in got),
                        "all within": "yes" if all(r["within"] == "yes" for r in got) else "NO",
                    }
                )
    _common.print_table("Summary per table, mode and budget", summary)
    print(
        f"\nfirst start (new Prefect database, 10s budget, {tables[0][0]}): {first['wall s']:.1f}s"
        f"\ntunelab --help median: {statistics.median(helps):.3f}s"
        f"\nload average at the end: {_common.load_average()}"
    )


if __name__ == "__main__":
    main()

"""tunelab as users run it vs untuned LightGBM, FLAML and AutoGluon at equal wall-clock budgets.

For every dataset in the manifest, seed and budget: one 80/20 split (stratified for
classification, that seed); every system gets the same 80% as a CSV and is scored once, here,
on the same unseen 20% by the same metric: ROC AUC (binary), log loss (multiclass, a loss:
lower is better) and R² (regression). Each system runs in its own subprocess, timed from
outside (spawn to exit), one after another within each dataset x seed:

* ``tunelab``: ``tunelab run --data train.csv --target T --task TASK --time-budget B
  --n-jobs 2 --seed S`` (the default: a Prefect flow run with the embedded server, nested CV
  on, the winner refitted on all rows given); then ``peers/predict_tunelab.py`` gets the
  predictions through ``tunelab.predict`` (not timed against the budget);
* ``lightgbm``: ``LGBMClassifier()`` / ``LGBMRegressor()`` defaults, ``n_jobs=2`` (no budget);
* ``flaml``: ``AutoML.fit(time_budget=...)``; ``autogluon``: ``TabularPredictor.fit(
  presets="medium_quality", time_limit=...)``, each told the time left until spawn + B.

Every system is re-run in this invocation, interleaved: for each (budget, seed, table) the
chosen systems run in turn (who goes first rotates), so they share the machine's load. Each
run appends one JSON line to ``--out`` as it ends, tagged with this invocation's
``session``; nothing is read back from an earlier invocation to skip or fill in a run. A long
benchmark can be split into several invocations (``--tables``, ``--budgets``, ``--seeds``,
``--systems``) appending to one file: the report compares, per (budget, table, seed), only
the records of the latest session that ran it. Each record has the load average at its start
and end and its wall time; tunelab's also its nested-CV estimate and the card's interval,
and the report counts how often the unseen score falls inside that interval (coverage).
``--report FILE`` prints the tables from a results file. Ties: |Δ| < 0.002, or for log loss
< 0.5% of the larger loss.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shlex
import shutil
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import _common
import numpy as np
import pandas as pd

BENCH = Path(__file__).resolve().parent
PEERS = BENCH / "peers"
SYSTEMS = ("tunelab", "lightgbm", "flaml", "autogluon")
PEER_SYSTEMS = ("lightgbm", "flaml", "autogluon")
METRICS = {"binary": "roc_auc", "multiclass": "log_loss", "regression": "r2"}
#: Interpreters: FLAML and AutoGluon live in their own virtual environments (README.md).
DEFAULT_PYTHONS = {
    "lightgbm": sys.executable,
    "flaml": "/work/bench-venvs/flaml/bin/python",
    "autogluon": "/work/bench-venvs/autogluon/bin/python",
}
ABS_TIE = 0.002
REL_TIE_LOSS = 0.005


# --------------------------------------------------------------------------- data


def make_split(entry: dict[str, Any], data_dir: Path, seed: int, work: Path) -> dict[str, Any]:
    """The raw rows, as text, split 80/20 (stratified on the target for classification)."""
    from sklearn.model_selection import train_test_split

    folder = work / "splits" / f"{entry['name']}-s{seed}"
    folder.mkdir(parents=True, exist_ok=True)
    source = data_dir / entry["file"]
    raw = pd.read_csv(source, dtype=str, keep_default_na=False)  # cells exactly as in the file
    typed = pd.read_csv(source)
    y = typed[entry["target"]]
    keep = y.notna().to_numpy()
    raw, y = raw[keep], y[keep]
    stratify = y.astype(str) if entry["task"] != "regression" else None
    train_idx, test_idx = train_test_split(
        np.arange(len(raw)), test_size=0.2, random_state=seed, stratify=stratify
    )
    train = raw.iloc[train_idx]
    test = raw.iloc[test_idx]
    paths = {
        "train": folder / "train.csv",
        "test": folder / "test_features.csv",
    }
    train.to_csv(paths["train"], index=False)
    test.drop(columns=[entry["target"]]).to_csv(paths["test"], index=False)
    return {**paths, "y_test": y.iloc[test_idx].reset_index(drop=True), "rows": len(train)}


# --------------------------------------------------------------------------- scoring


def score(task: str, y_test: pd.Series, predictions: pd.DataFrame) -> float:
    from sklearn.metrics import log_loss, r2_score, roc_auc_score

    if task == "regression":
        return float(r2_score(y_test.astype(float), predictions["prediction"].astype(float)))
    labels = sorted(y_test.astype(str).unique())
    columns = {c[len("proba_") :]: c for c in predictions.columns if c.startswith("proba_")}
    # Normalise labels written as 1.0 vs 1 (a float-typed target read back from CSV).
    columns = {_label(k): v for k, v in columns.items()}
    truth = y_test.astype(str).map(_label)
    if task == "binary":
        positive = sorted(columns)[-1] if len(columns) == 2 else labels[-1]
        proba = predictions[columns[positive]].to_numpy(dtype=float)
        return float(roc_auc_score((truth == positive).to_numpy(), proba))
    classes = sorted(set(columns) | set(truth))
    matrix = np.column_stack(
        [
            predictions[columns[c]].to_numpy(dtype=float) if c in columns else np.zeros(len(truth))
            for c in classes
        ]
    )
    matrix = np.clip(matrix, 1e-15, 1.0)
    matrix = matrix / matrix.sum(axis=1, keepdims=True)
    return float(log_loss(truth.to_numpy(), matrix, labels=classes))


def probability_range(predictions: pd.DataFrame) -> list[float] | None:
    """The smallest and largest predicted probability (None for a regression): the issue
    asks that no log-loss run ship a probability of exactly 0 or 1."""
    columns = [c for c in predictions.columns if c.startswith("proba_")]
    if not columns:
        return None
    values = predictions[columns].to_numpy(dtype=float)
    return [float(values.min()), float(values.max())]


def _label(text: str) -> str:
    try:
        number = float(text)
    except ValueError:
        return text
    return str(int(number)) if number.is_integer() else text


def higher_is_better(metric: str) -> bool:
    return metric != "log_loss"


def gap(metric: str, ours: float, theirs: float) -> float:
    """tunelab minus peer, oriented so that positive means tunelab is better."""
    return ours - theirs if higher_is_better(metric) else theirs - ours


def outcome(metric: str, ours: float | None, theirs: float | None) -> str:
    if ours is None or theirs is None:
        return "n/a"
    delta = gap(metric, ours, theirs)
    tie = ABS_TIE if higher_is_better(metric) else REL_TIE_LOSS * max(ours, theirs)
    if abs(delta) < tie:
        return "tie"
    return "win" if delta > 0 else "loss"


# --------------------------------------------------------------------------- running


def run_system(
    system: str, entry: dict[str, Any], split: dict[str, Any], budget: float, seed: int,
    work: Path, args: argparse.Namespace, env: dict[str, str],
) -> dict[str, Any]:  # fmt: skip
    tag = f"{system}-{entry['name']}-s{seed}-b{budget:g}"
    run_dir = work / "runs" / tag
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    preds, info_path = run_dir / "predictions.csv", run_dir / "info.json"
    task = entry["task"]
    record: dict[str, Any] = {
        "budget": budget, "dataset": entry["name"], "seed": seed, "task": task,
        "metric": METRICS[task], "system": system, "train_rows": split["rows"],
        "test_rows": len(split["y_test"]), "when": dt.datetime.now(dt.timezone.utc).isoformat(),
    }  # fmt: skip
    if system == "tunelab":
        name = tag.replace(".", "-")
        argv = [
            *_common.tunelab_command(), "run", "--data", str(split["train"]),
            "--target", entry["target"], "--task", task, "--time-budget", f"{budget:g}",
            "--n-jobs", str(args.n_jobs), "--seed", str(seed),
            "--data-dir", str(work / "tunelab-home"), "--name", name,
        ]  # fmt: skip
        if args.no_prefect:
            argv.append("--no-prefect")
        argv += shlex.split(args.tunelab_args)
        record["tunelab_args"] = args.tunelab_args
    else:
        deadline = time.time() + budget
        argv = [
            args.python[system], str(PEERS / f"run_{system}.py"),
            "--train", str(split["train"]), "--test", str(split["test"]),
            "--target", entry["target"], "--task", task, "--budget", f"{budget:g}",
            "--deadline", f"{deadline:.3f}", "--seed", str(seed), "--n-jobs", str(args.n_jobs),
            "--out", str(preds), "--info", str(info_path), "--work", str(run_dir),
        ]  # fmt: skip
    timed = _common.run_timed(argv, env=env, timeout=budget * 4 + 300, cwd=run_dir)
    (run_dir / "stdout.txt").write_text(timed.stdout)
    (run_dir / "stderr.txt").write_text(timed.stderr)
    record |= {
        "wall": timed.wall, "ratio": timed.wall / budget, "exit": timed.returncode,
        "load_start": timed.load_start, "load_end": timed.load_end,
    }  # fmt: skip
    if timed.returncode == 0 and system == "tunelab":
        predict = _common.run_timed(
            [
                sys.executable,
                str(PEERS / "predict_tunelab.py"),
                "--name",
                name,
                "--data-dir",
                str(work / "tunelab-home"),
                "--test",
                str(split["test"]),
                "--out",
                str(preds),
                "--info",
                str(info_path),
            ],  # fmt: skip
            env=env,
            timeout=600,
        )
        record["predict_wall"] = predict.wall
        if predict.returncode != 0:
            record["exit"] = predict.returncode
            timed = predict
    if record["exit"] != 0 or not preds.exists():
        record["error"] = timed.tail(12)
        record["command"] = " ".join(argv)
        record["score"] = None
    else:
        predictions = pd.read_csv(preds)
        record["score"] = score(task, split["y_test"], predictions)
        record["probability_range"] = probability_range(predictions)
        record["info"] = json.loads(info_path.read_text()) if info_path.exists() else {}
    if not args.keep_runs:
        for leftover in (run_dir / "autogluon",):
            shutil.rmtree(leftover, ignore_errors=True)
    return record


def warm_up(entry: dict[str, Any], data_dir: Path, work: Path, env: dict[str, str]) -> None:
    """One untimed ``tunelab run`` so Prefect's new database (in this run's PREFECT_HOME) is
    created before the first measured run; a user pays that once per machine, not per run."""
    argv = [
        *_common.tunelab_command(), "run", "--data", str(data_dir / entry["file"]),
        "--target", entry["target"], "--task", entry["task"], "--max-evals", "1",
        "--data-dir", str(work / "warm-up"), "--name", "warm-up",
    ]  # fmt: skip
    timed = _common.run_timed(argv, env=env, timeout=600)
    print(f"warm-up run (creates Prefect's database): {timed.wall:.1f}s, exit {timed.returncode}")
    if timed.returncode != 0:
        print("    " + timed.tail().replace("\n", "\n    "), flush=True)


def run(args: argparse.Namespace) -> None:
    data_dir = Path(args.data).resolve()
    entries = _common.pick_datasets(data_dir, args.tables)
    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    unknown = set(systems) - set(SYSTEMS)
    if unknown:
        raise SystemExit(f"unknown system(s) {sorted(unknown)}; choose from {SYSTEMS}")
    for system in systems:
        if system != "tunelab" and not Path(args.python[system]).exists():
            raise SystemExit(f"{system}: no interpreter at {args.python[system]} (README.md)")
    out = Path(args.out)
    session = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S")
    work = Path(args.work or tempfile.mkdtemp(prefix="tunelab-bench-quality-"))
    env = _common.bench_env(prefect_home=work / "prefect-home")

    print("# quality_vs_peers")
    print(_common.machine_line())
    print(
        f"budgets {args.budgets}, seeds {args.seeds}, systems {systems}, n_jobs {args.n_jobs}, "
        f"tunelab mode {'--no-prefect' if args.no_prefect else 'prefect (default)'}, "
        f"results -> {out} (session {session}), work {work}",
        flush=True,
    )
    try:
        if "tunelab" in systems and not args.no_prefect:
            manifest = _common.read_manifest(data_dir)
            mpg = next((e for e in manifest if e["name"] == "mpg"), entries[0])
            warm_up(mpg, data_dir, work, env)
        run_all(args, entries, systems, work, env, out, session)
    finally:
        _common.stop_shared_prefect_server(env)
    print(f"\nload average at the end: {_common.load_average()}")
    report(out, budgets=args.budgets, session=session)


def run_all(
    args: argparse.Namespace, entries: list[dict[str, Any]], systems: list[str], work: Path,
    env: dict[str, str], out: Path, session: str,
) -> None:  # fmt: skip
    """Every (budget, seed, table), and in each every system in turn, first one rotating."""
    data_dir = Path(args.data).resolve()
    for budget in args.budgets:
        for seed in args.seeds:
            for d_index, entry in enumerate(entries):
                todo = list(systems)
                split = make_split(entry, data_dir, seed, work)
                shift = (d_index + seed) % len(todo)
                for system in todo[shift:] + todo[:shift]:  # rotate who goes first
                    if args.stop_at and dt.datetime.now(dt.timezone.utc) >= args.stop_at:
                        print(f"stop-at {args.stop_at:%H:%M} UTC reached: no new runs")
                        return
                    record = run_system(system, entry, split, budget, seed, work, args, env)
                    record["commit"] = _common.git_revision()
                    record["session"] = session
                    with out.open("a") as handle:
                        handle.write(json.dumps(record, default=str) + "\n")
                    shown = "FAILED" if record["score"] is None else f"{record['score']:.4f}"
                    print(
                        f"  b{budget:g} {entry['name']} s{seed} {system}: {record['metric']} "
                        f"{shown}, wall {record['wall']:.1f}s (x{record['ratio']:.2f}), "
                        f"load {record['load_start']} -> {record['load_end']}",
                        flush=True,
                    )
                    if record["score"] is None:
                        print("    " + record["command"] + "\n    " + record["error"].replace(
                            "\n", "\n    "), flush=True)  # fmt: skip


# --------------------------------------------------------------------------- report


def latest_records(path: Path, session: str | None = None) -> list[dict[str, Any]]:
    """Per (budget, dataset, seed): the records of the latest session that ran it (one per
    system, the last written), so systems are compared only within one interleaved run;
    ``session`` keeps that session's records only."""
    by_key: dict[tuple, dict[str, Any]] = {}
    latest: dict[tuple, str] = {}
    for line in path.read_text().splitlines():
        if line.strip():
            r = json.loads(line)
            r.setdefault("session", "")
            if session is not None and r["session"] != session:
                continue
            cell = (r["budget"], r["dataset"], r["seed"])
            latest[cell] = max(latest.get(cell, ""), r["session"])
            by_key[(*cell, r["system"])] = r
    return [
        r for r in by_key.values() if r["session"] == latest[r["budget"], r["dataset"], r["seed"]]
    ]


def print_probability_ranges(cells: dict, order: list) -> None:
    """tunelab's extreme probabilities over its log-loss runs (runs recorded before this
    field existed are left out)."""
    ranges = [
        cells[key]["tunelab"]["probability_range"]
        for key in order
        if cells[key].get("tunelab", {}).get("metric") == "log_loss"
        and cells[key]["tunelab"].get("probability_range")
    ]
    if ranges:
        low, high = min(r[0] for r in ranges), max(r[1] for r in ranges)
        exact = sum(r[0] == 0.0 or r[1] == 1.0 for r in ranges)
        print(
            f"\ntunelab's log-loss runs: probabilities {low:.6f} .. {high:.6f} over {len(ranges)}"
            f" runs; {exact} with a probability of exactly 0 or 1"
        )


def report(path: Path, budgets: list[float] | None = None, session: str | None = None) -> None:
    records = latest_records(path, session)
    if budgets:
        records = [r for r in records if r["budget"] in budgets]
    for budget in sorted({r["budget"] for r in records}):
        report_budget(budget, [r for r in records if r["budget"] == budget])


def card_interval(record: dict[str, Any]) -> tuple[float | None, float | None]:
    """The model card's interval for the estimate, on the benchmark's scale (log loss as a
    loss), or (None, None) for cards from before it existed."""
    outer = (record.get("info") or {}).get("outer_cv") or {}
    if "interval_low" not in outer:
        return None, None
    low, high = float(outer["interval_low"]), float(outer["interval_high"])
    return (-high, -low) if record["metric"] == "log_loss" else (low, high)


def report_budget(budget: float, records: list[dict[str, Any]]) -> None:
    print(f"\n# Budget {budget:g} s")
    cells: dict[tuple, dict[str, dict[str, Any]]] = defaultdict(dict)
    for r in records:
        cells[(r["dataset"], r["seed"])][r["system"]] = r
    systems = [s for s in SYSTEMS if any(s in c for c in cells.values())]
    order = sorted(cells, key=lambda k: (k[1], k[0]))

    rows = []
    for key in order:
        c = cells[key]
        any_r = next(iter(c.values()))
        row = {"dataset": key[0], "seed": key[1], "metric": any_r["metric"]}
        for s in systems:
            row[s] = c[s]["score"] if s in c else None
        for s in systems:
            row[f"{s} wall s"] = c[s]["wall"] if s in c else None
        row["load 1m"] = float(any_r["load_start"].split("/")[0])
        rows.append(row)
    _common.print_table(
        "Scores on the unseen 20% (roc_auc and r2: higher is better; log_loss: lower is better)",
        rows,
    )
    runs = [
        {"dataset": key[0], "seed": key[1], "system": s, "wall s": c[s]["wall"],
         "x budget": c[s]["ratio"], "load at start": c[s]["load_start"],
         "load at end": c[s]["load_end"], "when": c[s].get("when", "")[11:19]}
        for key in order
        for c in [cells[key]]
        for s in sorted(c, key=lambda s: c[s].get("when", ""))
    ]  # fmt: skip
    _common.print_table("Every run in the order it ran: wall time and load average", runs)

    wtl = []
    for peer in [s for s in systems if s != "tunelab"]:
        counts = defaultdict(int)
        gaps: dict[str, list[float]] = defaultdict(list)
        for key in order:
            c = cells[key]
            if "tunelab" not in c or peer not in c:
                continue
            ours, theirs = c["tunelab"]["score"], c[peer]["score"]
            metric = c["tunelab"]["metric"]
            counts[outcome(metric, ours, theirs)] += 1
            if ours is not None and theirs is not None:
                gaps[metric].append(gap(metric, ours, theirs))
        all_gaps = [g for v in gaps.values() for g in v]
        wtl.append(
            {
                "tunelab vs": peer,
                "win": counts["win"],
                "tie": counts["tie"],
                "loss": counts["loss"],
                "n/a (a run failed)": counts["n/a"],
                "mean gap (all)": statistics.mean(all_gaps) if all_gaps else None,
                **{
                    f"mean gap {m}": (statistics.mean(gaps[m]) if gaps[m] else None)
                    for m in METRICS.values()
                },
            }  # fmt: skip
        )
    if wtl:
        _common.print_table(
            "tunelab win/tie/loss and mean gap (tunelab minus peer; for log_loss peer minus "
            "tunelab: positive = tunelab better)",
            wtl,
        )

    print_probability_ranges(cells, order)

    nested = []
    for key in order:
        r = cells[key].get("tunelab")
        if not r or r["score"] is None:
            continue
        info = r.get("info", {})
        estimate = info.get("outer_cv", {}).get("mean")
        if estimate is None:
            continue
        # tunelab reports neg_log_loss (greater is better); compare as a loss.
        estimate = -estimate if r["metric"] == "log_loss" else estimate
        low, high = card_interval(r)
        nested.append(
            {
                "dataset": key[0],
                "seed": key[1],
                "metric": r["metric"],
                "nested-CV estimate": estimate,
                "unseen 20%": r["score"],
                "gap (estimate - unseen)": estimate - r["score"],
                "interval": "-" if low is None else f"{low:.4f} .. {high:.4f}",
                "inside": None if low is None else ("yes" if low <= r["score"] <= high else "no"),
                "tunelab's own test": (
                    -info["internal_test_score"]
                    if r["metric"] == "log_loss"
                    else info.get("internal_test_score")
                ),
                "winner": info.get("model"),
                "trials": (info.get("trials") or {}).get("total"),
            }  # fmt: skip
        )
    if nested:
        _common.print_table("tunelab's nested-CV estimate vs its score on the unseen 20%", nested)
        by_metric = defaultdict(list)
        for row in nested:
            by_metric[row["metric"]].append(abs(row["gap (estimate - unseen)"]))
        judged = [row["inside"] for row in nested if row["inside"] is not None]
        if judged:
            print(
                f"\nunseen score inside the card's 95% interval: {judged.count('yes')} of "
                f"{len(judged)} ({100 * judged.count('yes') / len(judged):.0f}%)"
            )
        print(
            "\nmean |nested-CV estimate - unseen score|: "
            + ", ".join(f"{m} {statistics.mean(v):.4f} (n={len(v)})" for m, v in by_metric.items())
            + f"; all {statistics.mean([x for v in by_metric.values() for x in v]):.4f}"
        )

    walls = []
    for s in systems:
        got = [cells[k][s] for k in order if s in cells[k]]
        ratios = [r["ratio"] for r in got]
        walls.append(
            {
                "system": s,
                "runs": len(got),
                "failed": sum(r["score"] is None for r in got),
                "mean wall s": statistics.mean(r["wall"] for r in got),
                "mean ratio": statistics.mean(ratios),
                "max ratio": max(ratios),
                "over +10%": sum(x > 1.1 for x in ratios),
            }  # fmt: skip
        )
    _common.print_table(f"Wall time (spawn to exit) vs the {budget:g} s budget", walls)
    loads = [float(r[k].split("/")[0]) for r in records for k in ("load_start", "load_end")]
    print(f"\n1-min load average over these runs: min {min(loads):.2f}, mean "
          f"{statistics.mean(loads):.2f}, max {max(loads):.2f}")  # fmt: skip
    failures = [r for r in records if r["score"] is None]
    for r in failures:
        print(f"\nFAILED {r['system']} {r['dataset']} seed {r['seed']}: {r.get('command')}\n"
              f"{r.get('error')}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budgets", type=float, nargs="+", default=[30.0, 120.0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument(
        "--tables", "--datasets", dest="tables", default="all",
        help="name,name,... from the manifest (default: all of them)",
    )  # fmt: skip
    parser.add_argument("--systems", default=",".join(SYSTEMS))
    parser.add_argument("--data", default=str(_common.DEFAULT_DATA_DIR), help="datasets folder")
    parser.add_argument("--out", default="results.jsonl", help="JSON lines appended per run")
    parser.add_argument("--report", metavar="RESULTS", help="only print the tables of a file")
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--no-prefect", action="store_true", help="tunelab run --no-prefect")
    parser.add_argument(
        "--tunelab-args", default="", help="more options for tunelab run, e.g. '--inner-folds 5'"
    )
    parser.add_argument("--work", help="scratch folder (default: a new temporary one)")
    parser.add_argument("--keep-runs", action="store_true", help="keep AutoGluon's model folders")
    for system, python in DEFAULT_PYTHONS.items():
        parser.add_argument(f"--{system}-python", default=python, help=f"interpreter for {system}")
    parser.add_argument("--stop-at", help="HH:MM (UTC): launch no run after this time")
    args = parser.parse_args()
    if args.stop_at:
        hour, minute = map(int, args.stop_at.split(":"))
        now = dt.datetime.now(dt.timezone.utc)
        args.stop_at = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
        if args.stop_at < now - dt.timedelta(hours=12):
            args.stop_at += dt.timedelta(days=1)
    args.python = {s: getattr(args, f"{s}_python") for s in DEFAULT_PYTHONS}
    if args.report:
        report(Path(args.report))
        return
    run(args)


if __name__ == "__main__":
    main()

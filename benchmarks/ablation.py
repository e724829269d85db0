"""What ensembles and first-fold promotion add, measured on the product as users call it.

For each dataset x seed, three variants of ``tunelab.train(path, target, time_budget=B,
n_jobs=2, seed=S, orchestrate=False)`` run one after another (interleaved, so load drifts hit
all three alike), each in its own subprocess timed from outside:

* ``full``: as shipped (ensembles of 20 rounds, successive halving over inner folds);
* ``no-ensemble``: ``ensemble_size=0`` (the best single pipeline is shipped);
* ``no-promotion``: every trial earns all its inner folds unless the older "clearly worse"
  rule stops it (``tunelab.search.PROMOTION_MIN_TRIALS`` set out of reach in that process).

``orchestrate=False`` takes Prefect's start-up out of the comparison; tunelab's own 80/20
held-out test score and its nested-CV estimate are printed (higher is better: log loss as
``neg_log_loss``). Ties: |Δ| < 0.002, or < 0.5 % for log loss.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

import _common

VARIANTS = ("full", "no-ensemble", "no-promotion")

CHILD = """
import json, sys
import tunelab, tunelab.search
path, target, variant, budget, seed, home = sys.argv[1:7]
if variant == "no-promotion":
    tunelab.search.PROMOTION_MIN_TRIALS = 10**9
result = tunelab.train(path, target=target, orchestrate=False, time_budget=float(budget),
                       n_jobs=2, seed=int(seed), data_dir=home, report=False,
                       ensemble_size=0 if variant == "no-ensemble" else 20)
print(json.dumps({"cv": result["outer_cv"]["mean"], "test": result["test_score"],
                  "winner": result["best_family"]}))
"""


def is_tie(a: float, b: float, metric_is_loss: bool) -> bool:
    if metric_is_loss:
        return abs(a - b) < 0.005 * max(abs(a), abs(b))
    return abs(a - b) < 0.002


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(_common.DEFAULT_DATA_DIR), help="datasets folder")
    parser.add_argument(
        "--datasets",
        default="vehicle,mpg,house_votes,insurance,seattle_weather,life_expectancy",
    )
    parser.add_argument("--budget", type=float, default=30.0)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--out", default="ablation.jsonl", help="JSON lines, one per run")
    args = parser.parse_args()
    print(_common.machine_line(), flush=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="tunelab-ablation-") as work:
        for seed in args.seeds:
            for entry in _common.pick_datasets(args.data, args.datasets):
                path = str(Path(args.data) / entry["file"])
                for variant in VARIANTS:
                    argv = [sys.executable, "-c", CHILD, path, entry["target"], variant,
                            str(args.budget), str(seed), str(Path(work) / variant)]  # fmt: skip
                    timed = _common.run_timed(argv, env=_common.bench_env())
                    if timed.returncode != 0:
                        print(f"FAILED {entry['name']} {variant} s{seed}: {timed.tail()}")
                        continue
                    row = {
                        "dataset": entry["name"],
                        "task": entry["task"],
                        "seed": seed,
                        "variant": variant,
                        **json.loads(timed.stdout.strip().splitlines()[-1]),
                        "wall": timed.wall,
                        "load": f"{timed.load_start} -> {timed.load_end}",
                    }
                    rows.append(row)
                    with open(args.out, "a") as out:
                        out.write(json.dumps(row) + "\n")
                    line = f"test {row['test']:.4f} cv {row['cv']:.4f} {timed.wall:.1f}s"
                    print(f"  {row['dataset']} s{seed} {variant}: {line} {row['winner']}")
    report(rows)


def report(rows: list[dict]) -> None:
    cells = {(r["dataset"], r["seed"], r["variant"]): r for r in rows}
    for other in VARIANTS[1:]:
        wins = ties = losses = 0
        test_gaps, cv_gaps = [], []
        for (dataset, seed, variant), full in cells.items():
            base = cells.get((dataset, seed, other))
            if variant != "full" or base is None:
                continue
            test_gaps.append(full["test"] - base["test"])
            cv_gaps.append(full["cv"] - base["cv"])
            if is_tie(full["test"], base["test"], full["task"] == "multiclass"):
                ties += 1
            elif full["test"] > base["test"]:
                wins += 1
            else:
                losses += 1
        if test_gaps:
            print(f"full vs {other}: held-out test W/T/L {wins}/{ties}/{losses}, mean test "
                  f"gain {statistics.mean(test_gaps):+.4f}, mean nested-CV gain "
                  f"{statistics.mean(cv_gaps):+.4f} (n={len(test_gaps)})")  # fmt: skip


if __name__ == "__main__":
    main()

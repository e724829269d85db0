"""Does ``tunelab run`` train on a million rows within its budget, and beat LightGBM's defaults?

A synthetic binary table (default 1,000,000 x 20: 16 numbers and 4 text categories with 3,
20, 100 and 500 values; the target depends on both, with noise) is split 80/20 once, seeded.
``tunelab run --time-budget B`` (default 600 s, Prefect on, the installed command in its own
subprocess) trains on the 80 % and is timed from outside; the memory of its process tree
(tunelab and every child, summed) is sampled every 0.2 s and its peak reported beside the
table's in-memory size, and beside the peak of a 2,000-row run of the same shape (what a run
costs whatever its table: the interpreter, the libraries, Prefect's server). The registered
model then scores the unseen 20 % (ROC AUC), beside an untuned ``LGBMClassifier()`` fitted
on the same 80 % in this process.

    python benchmarks/scale.py                       # the issue's setting (about 11 minutes)
    python benchmarks/scale.py --rows 50000 --budget 60   # a quick check
"""

from __future__ import annotations

import argparse
import contextlib
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import _common
import numpy as np
import pandas as pd

CATEGORY_SIZES = (3, 20, 100, 500)


def synthetic_table(rows: int, seed: int) -> pd.DataFrame:
    """16 numeric columns and 4 text categories; the target mixes both, plus noise."""
    rng = np.random.default_rng(seed)
    numbers = rng.normal(size=(rows, 16)).astype(np.float64)
    frame = pd.DataFrame(numbers, columns=[f"x{i}" for i in range(16)])
    logit = numbers[:, 0] - 0.8 * numbers[:, 1] + 0.5 * numbers[:, 2] * numbers[:, 3]
    logit += 0.6 * np.sin(2 * numbers[:, 4]) + 0.4 * np.abs(numbers[:, 5])
    for i, size in enumerate(CATEGORY_SIZES):
        codes = rng.integers(0, size, rows)
        effects = rng.normal(scale=0.7, size=size)
        logit += effects[codes]
        frame[f"c{i}"] = pd.Series([f"v{c}" for c in range(size)], dtype=object).to_numpy()[codes]
    noise = rng.logistic(size=rows)
    frame["target"] = np.where(logit + noise > np.median(logit), "yes", "no")
    return frame


def tree_rss_bytes(pid: int) -> int:
    import psutil

    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    total = 0
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            total += process.memory_info().rss
    return total


def run_sampled(argv: list[str], env: dict[str, str]) -> tuple[float, int, int, str]:
    """(wall seconds, exit code, peak RSS of the process tree in bytes, stderr tail)."""
    started = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    peak = [0]

    def sample() -> None:
        while proc.poll() is None:
            peak[0] = max(peak[0], tree_rss_bytes(proc.pid))
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate()
    wall = time.perf_counter() - started
    sampler.join()
    return wall, proc.returncode, peak[0], (err or out).decode()[-3000:]


def untuned_lightgbm_auc(train: pd.DataFrame, test: pd.DataFrame) -> tuple[float, float]:
    from lightgbm import LGBMClassifier
    from sklearn.metrics import roc_auc_score

    def prepared(frame: pd.DataFrame) -> pd.DataFrame:
        features = frame.drop(columns=["target"]).copy()
        for column in features.select_dtypes(include=["object", "string"]):
            features[column] = features[column].astype("category")
        return features

    started = time.perf_counter()
    X_train = prepared(train)
    categories = {c: X_train[c].cat.categories for c in X_train.select_dtypes("category")}
    X_test = prepared(test)
    for column, values in categories.items():
        X_test[column] = pd.Categorical(X_test[column], categories=values)
    model = LGBMClassifier(verbose=-1).fit(X_train, train["target"] == "yes")
    seconds = time.perf_counter() - started
    return float(roc_auc_score(test["target"] == "yes", model.predict_proba(X_test)[:, 1])), seconds


def tunelab_auc(data_dir: Path, test: pd.DataFrame) -> float:
    from sklearn.metrics import roc_auc_score

    import tunelab

    model = tunelab.load_model("scale", data_dir=str(data_dir)).model
    positive = list(model.classes_).index("yes")
    scores = model.predict_proba(test.drop(columns=["target"]))[:, positive]
    return float(roc_auc_score(test["target"] == "yes", scores))


def run_tunelab(train: pd.DataFrame, test: pd.DataFrame, budget: float, seed: int) -> dict:
    """One ``tunelab run`` on ``train`` in a fresh work folder: wall, peak memory, test AUC."""
    with tempfile.TemporaryDirectory(prefix="tunelab-scale-") as work:
        work_dir = Path(work)
        data = work_dir / "train.parquet"
        train.reset_index(drop=True).to_parquet(data)
        argv = [*_common.tunelab_command(), "run", "--data", str(data), "--target", "target"]
        argv += ["--name", "scale", "--time-budget", str(budget), "--seed", str(seed)]
        argv += ["--data-dir", str(work_dir / "data")]
        load = _common.load_average()
        wall, code, peak, tail = run_sampled(argv, _common.bench_env(work_dir / "prefect-home"))
        if code != 0:
            raise SystemExit(f"tunelab run failed ({code}):\n{tail}")
        return {"wall": wall, "peak": peak, "auc": tunelab_auc(work_dir / "data", test),
                "load": load}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--budget", type=float, default=600.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(_common.machine_line())
    table = synthetic_table(args.rows, args.seed)
    test = table.sample(frac=0.2, random_state=args.seed)
    train = table.drop(index=test.index)
    size = train.drop(columns=["target"]).memory_usage(deep=False).sum()
    deep = train.drop(columns=["target"]).memory_usage(deep=True).sum()
    # What a run costs whatever the table (interpreter, libraries, Prefect's server): a
    # 2,000-row run of the same shape, so the peak can be split into fixed and per-table.
    small = synthetic_table(2000, args.seed)
    fixed = run_tunelab(small.iloc[:1600], small.iloc[1600:], 30.0, args.seed)["peak"]
    run = run_tunelab(train, test, args.budget, args.seed)
    wall, peak, auc = run["wall"], run["peak"], run["auc"]
    lgbm_auc, lgbm_seconds = untuned_lightgbm_auc(train, test)
    rows = [
        {
            "system": "tunelab run",
            "budget_s": args.budget,
            "wall_s": round(wall, 1),
            "peak_mib": round(peak / 2**20),
            "peak_vs_table": round(peak / size, 2),
            "above_fixed_vs_table": round((peak - fixed) / size, 2),
            "test_auc": auc,
        },
        {
            "system": "LGBMClassifier()",
            "budget_s": None,
            "wall_s": round(lgbm_seconds, 1),
            "peak_mib": None,
            "peak_vs_table": None,
            "above_fixed_vs_table": None,
            "test_auc": lgbm_auc,
        },
    ]
    title = f"{args.rows:,} x 20 rows (train {len(train):,}, test {len(test):,})"
    _common.print_table(title, rows)
    print(
        f"\ntable in memory: {size / 2**20:.0f} MiB (shallow), {deep / 2**20:.0f} MiB with its "
        f"strings; a 2,000-row run peaked at {fixed / 2**20:.0f} MiB (the fixed part); "
        f"load {run['load']} before the run, {_common.load_average()} after"
    )


if __name__ == "__main__":
    main()

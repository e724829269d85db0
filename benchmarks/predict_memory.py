"""Peak memory of batch prediction on a 1,000,000-row CSV, against the file's size.

Issue 19: scoring read the whole table, ran every row through the model twice (``predict``
then ``predict_proba``) and built the whole output in memory: a 200 MB CSV peaked at about
14x its size. Prediction now reads, scores and writes 100,000 rows at a time with one pass
through the model. This makes a synthetic CSV in a temporary folder, trains a small model on
a 5,000-row sample in process (``tunelab.train(..., orchestrate=False)``), runs
``tunelab predict`` as a subprocess (a Prefect flow run, as users run it) and polls the
resident set size of that process, and of its whole process tree (the embedded Prefect
server is a child process), every 50 ms.

    python benchmarks/predict_memory.py [--rows 1000000] [--code PATH]

``--code`` runs ``tunelab predict`` from another checkout (e.g. the release before) for a
before/after comparison on the same file.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _common import bench_env, load_average, tunelab_command

FEATURES = 12


def make_csv(path: Path, rows: int, seed: int = 0) -> None:
    """Twelve full-precision numbers, a category and an identifier per row (about 240 bytes);
    the target depends on three of the numbers and the category. Written in slices, so the
    writer's own memory stays small."""
    rng = np.random.default_rng(seed)
    with path.open("w") as out:
        for start in range(0, rows, 100_000):
            n = min(100_000, rows - start)
            frame = pd.DataFrame(
                rng.normal(size=(n, FEATURES)), columns=[f"x{i}" for i in range(12)]
            )
            frame.insert(0, "row_id", np.arange(start, start + n))
            frame["plan"] = rng.choice(["basic", "plus", "pro"], size=n)
            signal = frame["x0"] - 0.5 * frame["x1"] + frame["x2"] * (frame["plan"] == "pro")
            frame["churned"] = np.where(signal + rng.normal(scale=0.5, size=n) > 0, "yes", "no")
            frame.to_csv(out, index=False, header=start == 0)


def peak_rss(argv: list[str], env: dict[str, str]) -> tuple[int, int, int, float]:
    """(exit code, peak RSS of the process, peak RSS summed over its tree, seconds)."""
    import psutil

    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    root = psutil.Process(proc.pid)
    own = tree = 0
    while proc.poll() is None:
        try:
            rss = root.memory_info().rss
            children = sum(c.memory_info().rss for c in root.children(recursive=True))
        except psutil.Error:
            continue
        own, tree = max(own, rss), max(tree, rss + children)
        time.sleep(0.05)
    output = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
    if proc.returncode != 0:
        print(output[-3000:], file=sys.stderr)
    return proc.returncode, own, tree, time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--code", default=None, help="checkout whose tunelab predict to run")
    args = parser.parse_args()
    import tunelab

    with tempfile.TemporaryDirectory(prefix="tunelab-predict-") as tmp:
        data = Path(tmp) / "big.csv"
        make_csv(data, args.rows)
        home = Path(tmp) / "home"
        sample = (
            pd.read_csv(data, nrows=5_000)
            .drop(columns=["churned"])
            .assign(churned=pd.read_csv(data, nrows=5_000)["churned"])
        )
        tunelab.train(
            sample, "churned", orchestrate=False, name="big", data_dir=str(home),
            families=["lightgbm"], max_evals=2, outer_folds=2, inner_folds=2, report=False,
        )  # fmt: skip
        env = bench_env(Path(tmp) / "prefect")
        if args.code:
            env["PYTHONPATH"] = os.pathsep.join([args.code, env["PYTHONPATH"]])
        output = Path(tmp) / "scored.csv"
        argv = [*tunelab_command(), "predict", "--model", "big", "--data", str(data)]
        argv += ["--data-dir", str(home), "--output", str(output)]
        load_start = load_average()
        code, own, tree, seconds = peak_rss(argv, env)
        size = data.stat().st_size
        result = {
            "rows": args.rows,
            "code": args.code or "this checkout",
            "exit": code,
            "file_mb": round(size / 2**20, 1),
            "output_rows": sum(1 for _ in output.open()) - 1 if output.is_file() else 0,
            "peak_rss_mb": round(own / 2**20, 1),
            "ratio": round(own / size, 2),
            "peak_rss_tree_mb": round(tree / 2**20, 1),
            "ratio_tree": round(tree / size, 2),
            "seconds": round(seconds, 1),
            "load_start": load_start,
            "load_end": load_average(),
        }
        print(json.dumps(result, indent=2))
        return 0 if code == 0 and own <= 4 * size else 1


if __name__ == "__main__":
    sys.exit(main())

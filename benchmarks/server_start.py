"""What Prefect's local server costs each call, and what reusing it between calls saves.

Successive calls, each a fresh process as a user makes them (``tunelab run`` twice, or two
scripts calling ``tunelab.train``), on one small table with a fixed, tiny search (2 trials per
search, 2x2 folds, one family, no report), so the wall time is mostly start-up. Each call is
timed from outside (process start to exit). The same run with ``--no-prefect`` is the
reference: the difference is what Prefect adds (server start, flow and task runs).

All calls share one fresh ``PREFECT_HOME``; an untimed first call creates its database.
``TUNELAB_PREFECT_IDLE_SECONDS`` is passed through: 0 gives every call a server of its own
(stopped when it ends); a positive value lets the first timed call start a server that the
next ones reuse (see README, "Prefect's local server").
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import _common

API_CALL = """
import sys, tunelab
tunelab.train(sys.argv[1], target=sys.argv[2], data_dir=sys.argv[3], families=["linear"],
              max_evals=2, outer_folds=2, inner_folds=2, report=False, orchestrate=%s)
"""


def command(mode: str, data: str, target: str, data_dir: str, prefect: bool) -> list[str]:
    if mode == "api":
        code = API_CALL % prefect
        return [sys.executable, "-c", code, data, target, data_dir]
    argv = [*_common.tunelab_command(), "run", "--data", data, "--target", target]
    argv += ["--data-dir", data_dir, "--families", "linear", "--max-evals", "2"]
    argv += ["--outer-folds", "2", "--inner-folds", "2", "--no-report"]
    return argv + ([] if prefect else ["--no-prefect"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(_common.DEFAULT_DATA_DIR))
    parser.add_argument("--table", default="mpg")
    parser.add_argument("--modes", nargs="+", default=["cli", "api"], choices=["cli", "api"])
    parser.add_argument("--calls", type=int, default=2)
    args = parser.parse_args()
    entry = _common.pick_datasets(args.data, args.table)[0]
    data, target = str(Path(args.data) / entry["file"]), entry["target"]
    work = Path(tempfile.mkdtemp(prefix="tunelab-bench-server-"))
    env = _common.bench_env(prefect_home=work / "prefect-home")
    idle = os.environ.get("TUNELAB_PREFECT_IDLE_SECONDS", "(default)")
    print("# server start")
    print(_common.machine_line())
    print(f"table {entry['name']} ({entry['rows']} rows), TUNELAB_PREFECT_IDLE_SECONDS={idle}")
    first = _common.run_timed(
        command("cli", data, target, str(work / "d0"), True),
        env={**env, "TUNELAB_PREFECT_IDLE_SECONDS": "0"},
    )
    print(f"untimed first call (creates the database): {first.wall:.1f}s rc={first.returncode}")
    rows = []
    try:
        for mode in args.modes:
            local = _common.run_timed(command(mode, data, target, str(work / "l"), False), env=env)
            rows.append({"mode": mode, "call": "no-prefect", "wall s": local.wall,
                         "load": local.load_start, "rc": local.returncode})  # fmt: skip
            for call in range(1, args.calls + 1):
                timed = _common.run_timed(
                    command(mode, data, target, str(work / f"{mode}{call}"), True), env=env
                )
                rows.append({"mode": mode, "call": f"prefect #{call}", "wall s": timed.wall,
                             "+ vs no-prefect s": timed.wall - local.wall,
                             "load": timed.load_start, "rc": timed.returncode})  # fmt: skip
                if timed.returncode:
                    print(timed.tail(), file=sys.stderr)
    finally:
        _common.stop_shared_prefect_server(env)
    _common.print_table(
        "Wall time per call (fresh process each)", rows,
        ["mode", "call", "wall s", "+ vs no-prefect s", "load", "rc"],
    )  # fmt: skip
    print(f"\nload average at the end: {_common.load_average()}")


if __name__ == "__main__":
    main()

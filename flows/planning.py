"""Run planning: names, parallelism, time-budget deadlines and the resume manifest."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from tunelab.atomic import write_json_atomic
from tunelab.errors import ParameterError

#: Share of the time budget the outer-fold searches are planned in; the rest is what the final
#: search, refit and registration may need at most.
SEARCH_SHARE_OF_BUDGET = 0.85

#: Seconds kept after the final search for registration, artifacts and the flow's tear-down.
FIXED_RESERVE_SECONDS = 1.0


def default_model_name(data: str, target: str) -> str:
    stem = Path(str(data)).name.split(".")[0]
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{stem}-{target}").strip("-.") or "model"


def plan_outer_deadlines(
    start: float, time_budget: float | None, batches: int
) -> list[float | None]:
    """Gives each outer-fold batch, and the final search after them, an even share of the budget."""
    if time_budget is None:
        return [None] * batches
    per_phase = time_budget * SEARCH_SHARE_OF_BUDGET / (batches + 1)
    return [start + per_phase * (i + 1) for i in range(batches)]


def final_search_deadline(
    start: float, time_budget: float | None, fold_fit_seconds: list[float]
) -> float | None:
    """Ends the final search as late as the refit that follows it allows.

    A fixed share under-uses long budgets on fast data and over-runs short ones on slow data,
    so the reserve is sized from the slowest single-fold fit the outer searches measured: about
    one fold for the trial in flight at the deadline (trials stop between folds), one for the
    refit on all training rows, plus a fixed second, and never more than the planned share.
    """
    if time_budget is None:
        return None
    cap = time_budget * (1 - SEARCH_SHARE_OF_BUDGET)
    if not fold_fit_seconds:
        return start + time_budget - cap
    reserve = FIXED_RESERVE_SECONDS + 2 * max(fold_fit_seconds)
    return start + time_budget - min(reserve, cap)


def check_run_manifest(run_dir: Path, manifest: dict[str, Any]) -> None:
    """Resuming is only sound on the same data with the same settings."""
    path = run_dir / "run.json"
    if path.exists():
        previous = json.loads(path.read_text())
        changed = sorted(k for k in manifest if previous.get(k) != manifest[k])
        if changed:
            details = ", ".join(f"{k}: {previous.get(k)!r} -> {manifest[k]!r}" for k in changed)
            raise ParameterError(
                f"Run {run_dir.name!r} was started with different settings ({details}); "
                "use a new run id"
            )
    else:
        write_json_atomic(path, manifest)


def outer_fold_parallelism(cores: int, outer_folds: int) -> tuple[int, int]:
    """(outer folds run at once, cores each): folds are independent, so they get cores first."""
    workers = min(cores, outer_folds)
    return workers, max(1, cores // workers)


def resolve_n_jobs(n_jobs: int) -> int:
    cores = os.cpu_count() or 1
    return cores if n_jobs is None or n_jobs <= 0 else n_jobs

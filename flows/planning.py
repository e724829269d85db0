"""Run planning: names, parallelism, time-budget deadlines and the resume manifest."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from tunelab.atomic import write_json_atomic
from tunelab.errors import ParameterError

#: Share of the time budget given to searches; the rest covers refits and registration.
SEARCH_SHARE_OF_BUDGET = 0.85


def default_model_name(data: str, target: str) -> str:
    stem = Path(str(data)).name.split(".")[0]
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{stem}-{target}").strip("-.") or "model"


def plan_deadlines(
    start: float, time_budget: float | None, batches: int
) -> tuple[list[float | None], float | None]:
    """Shares the search part of the budget evenly: outer-fold batches, then the final search."""
    if time_budget is None:
        return [None] * batches, None
    per_phase = time_budget * SEARCH_SHARE_OF_BUDGET / (batches + 1)
    return [start + per_phase * (i + 1) for i in range(batches)], start + per_phase * (batches + 1)


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


def resolve_n_jobs(n_jobs: int) -> int:
    cores = os.cpu_count() or 1
    return cores if n_jobs is None or n_jobs <= 0 else n_jobs

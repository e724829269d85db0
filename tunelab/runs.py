"""A run's identity on disk: its id, checkpoint folder, resume manifest and default name."""

from __future__ import annotations

import json
import os
import re
import uuid
from pathlib import Path
from typing import Any

from tunelab.atomic import write_json_atomic
from tunelab.errors import CheckpointError, ParameterError


def new_run_id() -> str:
    return uuid.uuid4().hex[:12]


def default_model_name(data: str, target: str) -> str:
    """``<file stem>-<target>``; for URLs and database sources the last path segment."""
    stem = re.split(r"[/\\?]", str(data).rstrip("/"))[-1].split(".")[0] if data else ""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{stem}-{target}").strip("-.")[:100] or "model"


def check_run_manifest(run_dir: Path, manifest: dict[str, Any]) -> None:
    """Resuming is only sound on the same data with the same settings."""
    path = run_dir / "run.json"
    if path.exists():
        try:
            previous = json.loads(path.read_text())
            if not isinstance(previous, dict):
                raise ValueError("not an object")
        except (OSError, ValueError, RecursionError) as exc:
            raise CheckpointError(
                f"Cannot resume: {str(path)!r} is unreadable ({exc}); use a new run id"
            ) from None
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

"""What a registered model needs to be reproduced: library versions and a data fingerprint."""

from __future__ import annotations

import hashlib
import platform
from importlib import metadata

import pandas as pd

#: What loading and running a registered model needs (pinned in MLflow models too).
MODEL_RUNTIME_PACKAGES = (
    "scikit-learn",
    "skops",
    "xgboost",
    "lightgbm",
    "pandas",
    "numpy",
    "scipy",
)
#: Recorded on every model card: the runtime, plus what searched and orchestrated the run.
TRACKED_PACKAGES = ("tunelab", *MODEL_RUNTIME_PACKAGES, "hyperopt", "prefect")


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for package in TRACKED_PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions


def fingerprint(frame: pd.DataFrame) -> str:
    """Content hash of names, rows and order, so a resumed run can prove it sees the same table."""
    digest = hashlib.sha256("\x1f".join(map(str, frame.columns)).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
    return digest.hexdigest()[:16]

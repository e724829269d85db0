"""What a registered model needs to be reproduced: library versions and a data fingerprint."""

from __future__ import annotations

import hashlib
import platform
from importlib import metadata

import pandas as pd

TRACKED_PACKAGES = (
    "tunelab",
    "scikit-learn",
    "xgboost",
    "lightgbm",
    "hyperopt",
    "pandas",
    "numpy",
    "prefect",
    "skops",
)


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

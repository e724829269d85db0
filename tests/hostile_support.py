"""Builders for tests/test_hostile.py: a tiny real registry entry, malicious models, snapshots.

Kept apart from the case table so each case stays one readable line of intent.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import skops.io as sio
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from tunelab.pipelines import build_pipeline, infer_schema
from tunelab.registry import ModelRegistry
from tunelab.store import ModelStore

ROWS = 100
LINEAR = {"model": {"family": "linear", "C": 1.0}, "feature_selection": {"method": "none"}}


def training_frame(rows: int = ROWS, seed: int = 0) -> pd.DataFrame:
    """Numbers, a category, ISO dates and a binary target: every column role predict checks."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=rows)
    return pd.DataFrame(
        {
            "x": x,
            "colour": rng.choice(["red", "green", "blue"], size=rows),
            "when": pd.date_range("2021-01-01", periods=rows, freq="D").strftime("%Y-%m-%d"),
            "label": np.where(x + rng.normal(scale=0.5, size=rows) > 0, "yes", "no"),
        }
    )


def register_tiny_model(registry_root: Path | ModelStore, name: str = "m") -> None:
    """A real fitted tunelab pipeline, registered the way the training flow registers one
    (in the file registry at ``registry_root``, or in the given store)."""
    frame = training_frame()
    features, target = frame.drop(columns=["label"]), frame["label"]
    schema = infer_schema(features, target, "binary")
    model = build_pipeline(LINEAR, schema, seed=0).fit(features, target)
    metadata = {
        "task": "binary",
        "metric": "roc_auc",
        "schema": schema.to_dict(),
        "metrics": {"outer_cv": {"mean": 0.9, "std": 0.01}, "test_score": 0.9},
        "best": {"family": "linear", "config": LINEAR},
    }
    store = ModelRegistry(registry_root) if isinstance(registry_root, Path) else registry_root
    store.register(name, model, metadata, pd.DataFrame({"trial": [0]}))


# --- malicious models --------------------------------------------------------------------------
def _rewrite_function_refs(payload: bytes, module: str, name: str) -> bytes:
    """Points the FunctionTransformer's ``func`` at ``module.name``, as an attacker would."""
    source = zipfile.ZipFile(io.BytesIO(payload))
    schema = json.loads(source.read("schema.json"))

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "func" in node and isinstance(node["func"], dict):
                node["func"]["__module__"], node["func"]["__class__"] = module, name
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as target:
        for item in source.namelist():
            data = json.dumps(schema).encode() if item == "schema.json" else source.read(item)
            target.writestr(item, data)
    return out.getvalue()


def malicious_model_bytes(func: Callable, module: str, name: str, kw_args: dict) -> bytes:
    """A pipeline whose first step calls ``module.name`` on the rows it is asked to score."""
    fitted = LogisticRegression().fit([[0.0], [1.0]], [0, 1])
    pipeline = Pipeline(
        [("hack", FunctionTransformer(func=func, kw_args=kw_args)), ("model", fitted)]
    )
    return _rewrite_function_refs(sio.dumps(pipeline), module, name)


class PickleBomb:
    """Unpickling this creates ``marker``: proof that code ran."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def payloads(marker: Path, tmp: Path) -> dict[str, tuple[Callable, str, str, dict, Any]]:
    """id -> (real function, module, name skops records, kw_args, argument that runs it)."""
    bomb = tmp / "bomb.npy"
    bomb.write_bytes(pickle.dumps(PickleBomb(marker)))
    return {
        "check_output via sklearn": (
            subprocess.check_output,
            "sklearn.utils._testing",
            "check_output",
            {},
            ["touch", str(marker)],
        ),
        "numpy.load pickle": (np.load, "numpy", "load", {"allow_pickle": True}, str(bomb)),
        "numpy.load via sklearn array_api_compat": (
            np.load,
            "sklearn.externals.array_api_compat.numpy",
            "load",
            {"allow_pickle": True},
            str(bomb),
        ),
        "builtins.eval": (eval, "builtins", "eval", {}, f"open({str(marker)!r}, 'w')"),
        "os.system": (os.system, "os", "system", {}, f"touch {marker}"),
    }


def plant_model(version_dir: Path, payload: bytes, update_hash: bool = True) -> None:
    """Replaces a registered model file, updating metadata.json's SHA-256 like an attacker."""
    (version_dir / "model.skops").write_bytes(payload)
    if update_hash:
        meta_file = version_dir / "metadata.json"
        meta = json.loads(meta_file.read_text())
        meta["model_sha256"] = hashlib.sha256(payload).hexdigest()
        meta_file.write_text(json.dumps(meta))


def edit_metadata(version_dir: Path, **changes: Any) -> None:
    meta_file = version_dir / "metadata.json"
    meta = json.loads(meta_file.read_text())
    meta.update(changes)
    meta_file.write_text(json.dumps(meta))


def deep_json(levels: int = 100_000) -> str:
    """A JSON object nested ``levels`` deep: valid JSON that recursive parsers cannot read."""
    return '{"a":' * levels + "1" + "}" * levels


# --- registry state ------------------------------------------------------------------------------
def snapshot(root: Path) -> dict[str, str]:
    """Every path under ``root`` with its content hash (or link target), to prove nothing moved."""
    if not root.exists():
        return {}
    state = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if path.is_symlink():
            state[rel] = "-> " + os.readlink(path)
        elif path.is_dir():
            state[rel] = "<dir>"
        else:
            state[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return state

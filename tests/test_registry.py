"""Registry safety: atomic versions, distinct numbers under concurrency, verified loads."""

from __future__ import annotations

import multiprocessing
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import tunelab.registry as registry_module
from tunelab.errors import RegistryError
from tunelab.registry import ModelRegistry


def small_model() -> LogisticRegression:
    X = np.arange(20.0).reshape(-1, 1)
    return LogisticRegression().fit(X, (X[:, 0] > 9).astype(int))


def register(root, name="m", model=None):
    return ModelRegistry(root).register(
        name,
        model if model is not None else small_model(),
        {"task": "binary"},
        pd.DataFrame({"trial": [0]}),
    )


def _register_in_child(root: str) -> int:
    return register(root).version


def test_concurrent_registrations_get_distinct_versions(tmp_path):
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        versions = pool.map(_register_in_child, [str(tmp_path)] * 8)
    assert sorted(versions) == list(range(1, 9))
    registry = ModelRegistry(tmp_path)
    assert registry.versions("m") == list(range(1, 9))
    assert all(registry.load("m", v).model.predict([[15.0]])[0] == 1 for v in versions)


def test_a_crash_while_writing_leaves_no_visible_version(tmp_path, monkeypatch):
    register(tmp_path)

    def dump_then_crash(model, path):
        path.write_bytes(b"half a model")
        raise OSError("disk full")

    monkeypatch.setattr(registry_module.sio, "dump", dump_then_crash)
    with pytest.raises(OSError, match="disk full"):
        register(tmp_path)
    registry = ModelRegistry(tmp_path)
    assert registry.versions("m") == [1]
    assert not list((tmp_path / "m").glob(".staging-*"))
    monkeypatch.undo()
    assert register(tmp_path).version == 2


def test_leftover_staging_folder_from_a_killed_process_is_ignored(tmp_path):
    register(tmp_path)
    (tmp_path / "m" / ".staging-dead").mkdir()
    (tmp_path / "m" / ".staging-dead" / "model.skops").write_bytes(b"partial")
    assert ModelRegistry(tmp_path).versions("m") == [1]
    assert ModelRegistry(tmp_path).resolve_version("m") == 1


def test_tampered_model_file_is_refused(tmp_path):
    entry = register(tmp_path)
    model_file = entry.path / "model.skops"
    model_file.write_bytes(model_file.read_bytes() + b"\0")
    with pytest.raises(RegistryError, match="Integrity check failed"):
        ModelRegistry(tmp_path).load("m")


def test_unexpected_types_are_refused_even_with_a_matching_hash(tmp_path):
    register(tmp_path, model={"weights": Fraction(1, 3)})
    with pytest.raises(RegistryError, match="unexpected types.*fractions.Fraction"):
        ModelRegistry(tmp_path).load("m")


def test_aliases_and_lookup_errors(tmp_path):
    register(tmp_path)
    register(tmp_path)
    registry = ModelRegistry(tmp_path)
    assert registry.set_alias("m", "production", "1") == 1
    assert registry.load("m", "production").version == 1
    assert registry.load("m").version == 2
    summary = registry.summary()
    assert summary.set_index("version").loc[1, "aliases"] == "production"
    with pytest.raises(RegistryError, match="No registered model named 'other'"):
        registry.load("other")
    with pytest.raises(RegistryError, match="has no version 7"):
        registry.load("m", 7)
    with pytest.raises(RegistryError, match="has no alias 'staging'"):
        registry.load("m", "staging")
    with pytest.raises(RegistryError, match="Invalid model name"):
        register(tmp_path, name="../escape")

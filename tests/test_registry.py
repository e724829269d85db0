"""Registry safety: atomic versions, distinct numbers under concurrency, verified loads."""

from __future__ import annotations

import errno
import hashlib
import json
import multiprocessing
import os
import stat
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.linear_model import LogisticRegression

import tunelab.registry as registry_module
from tunelab.errors import ParameterError, RegistryError, StorageError
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

    def fsync_on_a_full_disk(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(registry_module.os, "fsync", fsync_on_a_full_disk)
    with pytest.raises(StorageError, match="No space left on device"):
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
    model_file = Path(entry.location) / "model.skops"
    model_file.write_bytes(model_file.read_bytes() + b"\0")
    with pytest.raises(RegistryError, match="Integrity check failed"):
        ModelRegistry(tmp_path).load("m")


def test_unexpected_types_are_refused_even_with_a_matching_hash(tmp_path):
    entry = register(tmp_path)
    payload = sio.dumps({"weights": Fraction(1, 3)})
    (Path(entry.location) / "model.skops").write_bytes(payload)
    meta = json.loads((Path(entry.location) / "metadata.json").read_text())
    meta["model_sha256"] = hashlib.sha256(payload).hexdigest()
    (Path(entry.location) / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(RegistryError, match="unexpected types.*fractions.Fraction"):
        ModelRegistry(tmp_path).load("m")


def test_a_model_with_unlisted_types_is_not_registered(tmp_path):
    with pytest.raises(RegistryError, match="not in tunelab.model_types.ALLOWED_MODEL_TYPES"):
        register(tmp_path, model={"weights": Fraction(1, 3)})
    assert ModelRegistry(tmp_path).versions("m") == []


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_every_family_and_selection_round_trips_under_the_allow_list(task, tmp_path):
    """New families (models.FAMILIES) and selectors are covered here automatically."""
    from tests.test_pipelines import TARGETS, mixed_frame
    from tunelab.models import FAMILIES
    from tunelab.pipelines import build_pipeline, infer_schema
    from tunelab.pipelines.feature_selection import SELECTION_METHODS

    frame = mixed_frame(80)
    y = pd.Series(TARGETS[task](frame), name="y")
    schema = infer_schema(frame, y, task)
    registry = ModelRegistry(tmp_path)
    for family in FAMILIES.values():
        if not family.supports(task):
            continue
        for method, spec in SELECTION_METHODS.items():
            for pick in (0, -1):  # both ends of every range and choice
                params = {
                    n: d.options[pick] if hasattr(d, "options") else (d.low, d.high)[pick]
                    for n, d in family.params(task).items()
                }
                params.update({k: v for k, v in params.items() if k != "n_estimators"})
                if "n_estimators" in params:
                    params["n_estimators"] = 5  # types do not depend on the count; time does
                selection = {
                    n: d.options[pick] if hasattr(d, "options") else (d.low, d.high)[pick]
                    for n, d in spec.items()
                }
                config = {
                    "model": {"family": family.name, **params},
                    "feature_selection": {"method": method, **selection},
                }
                model = build_pipeline(config, schema, seed=0).fit(frame, y)
                name = f"{family.name}-{method}-{pick + 1}"
                registry.register(name, model, {"task": task}, pd.DataFrame({"t": [0]}))
                loaded = registry.load(name).model
                np.testing.assert_array_equal(loaded.predict(frame), model.predict(frame))


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
    with pytest.raises(ParameterError, match="Invalid model name"):
        register(tmp_path, name="../escape")


@pytest.mark.parametrize("umask, folder, file", [(0o022, 0o755, 0o644), (0o027, 0o750, 0o640)])
def test_versions_follow_the_umask_so_a_shared_registry_stays_readable(
    tmp_path, umask, folder, file
):
    previous = os.umask(umask)
    try:
        entry = register(tmp_path)
        ModelRegistry(tmp_path).set_alias("m", "production", 1)
    finally:
        os.umask(previous)
    assert stat.S_IMODE(Path(entry.location).stat().st_mode) == folder
    for path in [*Path(entry.location).iterdir(), tmp_path / "m" / "aliases.json"]:
        assert stat.S_IMODE(path.stat().st_mode) == file, path

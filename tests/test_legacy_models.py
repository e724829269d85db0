"""Models registered by tunelab 0.1.0 (before its modules moved under ``tunelab.*``) still load.

``tests/data/legacy-0.1.0`` is a data dir written by that release: a LightGBM pipeline with
tunelab's own transformers, whose skops file names the old top-level modules (``models.``,
``pipelines.``). Its predictions on 20 rows were saved by the same release.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

import tunelab

LEGACY = Path(__file__).parent / "data" / "legacy-0.1.0"


@pytest.fixture()
def legacy_dir(tmp_path: Path) -> Path:
    target = tmp_path / "legacy"
    shutil.copytree(LEGACY, target)
    return target


def test_a_model_registered_by_0_1_0_predicts_as_it_did(legacy_dir: Path) -> None:
    rows = pd.read_csv(legacy_dir / "rows.csv")
    expected = pd.read_csv(legacy_dir / "predictions.csv")
    predicted = tunelab.predict("legacy-churn", rows, data_dir=str(legacy_dir))
    assert list(predicted["prediction"]) == list(expected["prediction"])
    pd.testing.assert_frame_equal(
        predicted[["proba_no", "proba_yes"]].reset_index(drop=True),
        expected[["proba_no", "proba_yes"]],
        rtol=1e-9,
    )


def test_the_legacy_file_names_the_old_modules(legacy_dir: Path) -> None:
    """Guards the fixture itself: it must exercise the compatibility mapping."""
    import zipfile

    model_file = legacy_dir / "registry" / "legacy-churn" / "v1" / "model.skops"
    with zipfile.ZipFile(model_file) as archive:
        schema = archive.read("schema.json").decode()
    assert '"__module__": "models.boosting"' in schema
    assert '"__module__": "pipelines.transformers"' in schema

"""Loading and validating the training table before any model code runs.

Every check raises :class:`DataValidationError` with a message that names the column or
value at fault, because a failure deep inside a fit an hour into a search helps nobody.
"""

from __future__ import annotations

import difflib
import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from tunelab.errors import DataValidationError, ParameterError
from tunelab.listing import some_names
from tunelab.models.kinds import is_classification
from tunelab.sources import FILE_SUFFIXES, read_source
from tunelab.task import TaskKind

SUPPORTED_SUFFIXES = FILE_SUFFIXES
MIN_ROWS = 20


def load_table(
    source: str | Path | pd.DataFrame, *, table: str | None = None, query: str | None = None
) -> pd.DataFrame:
    """The table a run or a prediction reads: a DataFrame as given, else a file path, a URL
    (``s3://``, ``https://``...) or a database URL with ``table``/``query``, read by
    :func:`tunelab.sources.read_source` with errors users can act on."""
    if isinstance(source, pd.DataFrame):
        return source
    if not isinstance(source, (str, Path)):
        raise DataValidationError(
            f"Data must be a file path or a pandas DataFrame, not {type(source).__name__}"
        )
    return read_source(source, table=table or None, query=query or None)


def check_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Column names must be unique strings: they key the schema stored with the model."""
    if frame.shape[1] == 0:
        raise DataValidationError("The table has no columns")
    names = [str(c) for c in frame.columns]
    duplicates = sorted(n for n, count in Counter(names).items() if count > 1)
    if duplicates:
        raise DataValidationError(f"Duplicate column names: {some_names(duplicates)}")
    if any(not isinstance(c, str) for c in frame.columns):
        frame = frame.set_axis(names, axis=1)
    return frame


def check_target_present(frame: pd.DataFrame, target: str) -> None:
    if not isinstance(target, str) or not target:
        raise ParameterError("A target column name is required")
    if target not in frame.columns:
        close = difflib.get_close_matches(target, list(frame.columns), n=3)
        hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
        raise DataValidationError(f"Target column {target!r} not found in the table{hint}")


#: A text column whose values are at least this share numbers mixes numbers and words.
MIXED_NUMERIC_SHARE = 0.25
_NESTED_TYPES = (list, tuple, dict, set, np.ndarray)


def check_nested_values(frame: pd.DataFrame) -> None:
    """Parquet list/struct columns arrive as arrays and dicts, which no encoder can use."""
    for name in frame.columns:
        column = frame[name]
        if column.dtype != object:
            continue
        sample = column.dropna().head(1_000)
        nested = next((v for v in sample if isinstance(v, _NESTED_TYPES)), None)
        if nested is not None:
            kind = "struct" if isinstance(nested, dict) else "list"
            raise DataValidationError(
                f"Column {name!r} holds nested values ({kind}s such as {_short(nested)}); "
                "flatten it into plain columns"
            )


def _short(value: object) -> str:
    text = repr(value.tolist() if isinstance(value, np.ndarray) else value)
    return text if len(text) <= 60 else text[:57] + "..."


def check_mixed_types(frame: pd.DataFrame) -> None:
    """A column mixing numbers and text is almost always a data error (e.g. '12' and 'twelve')."""
    for name in frame.columns:
        column = frame[name]
        if pd.api.types.is_numeric_dtype(column) or pd.api.types.is_datetime64_any_dtype(column):
            continue
        # A sample keeps this linear-time check cheap on million-row tables.
        values = column.dropna().head(100_000)
        if values.empty or pd.api.types.is_bool_dtype(values):
            continue
        kinds = {type(v) for v in values.head(10_000)}
        numeric_kinds = {int, float, np.int64, np.float64, bool, np.bool_}
        if kinds & numeric_kinds and kinds - numeric_kinds:
            raise DataValidationError(
                f"Column {name!r} mixes types ({', '.join(sorted(k.__name__ for k in kinds))}); "
                "convert it to one type"
            )
        as_numbers = pd.to_numeric(values.astype(str), errors="coerce")
        share = as_numbers.notna().mean()
        if 0.8 <= share < 1.0:
            bad = values[as_numbers.isna()].iloc[0]
            raise DataValidationError(
                f"Column {name!r} is mostly numeric but contains text such as {bad!r}; "
                "fix or blank those values"
            )
        if MIXED_NUMERIC_SHARE <= share < 0.8:
            number = values[as_numbers.notna()].iloc[0]
            word = values[as_numbers.isna()].iloc[0]
            raise DataValidationError(
                f"Column {name!r} mixes numbers and text ({share:.0%} numbers, e.g. {number!r} "
                f"and {word!r}); convert it to one type"
            )


def check_infinite(frame: pd.DataFrame) -> None:
    """One array check over all float columns (a loop over 5,000 columns took 0.3 s)."""
    floats = [i for i, t in enumerate(frame.dtypes) if pd.api.types.is_float_dtype(t)]
    if not floats:
        return
    infinite = np.isinf(frame.iloc[:, floats].to_numpy(dtype=float, na_value=np.nan)).any(axis=0)
    if infinite.any():
        name = frame.columns[floats[int(np.argmax(infinite))]]
        raise DataValidationError(
            f"Column {name!r} contains infinite values; replace them with numbers or blanks"
        )


def check_target_values(target: pd.Series) -> None:
    if target.isna().all():
        raise DataValidationError(f"Target column {target.name!r} has no values (all missing)")
    if pd.api.types.is_datetime64_any_dtype(target):
        raise DataValidationError(
            f"Target column {target.name!r} holds dates; tunelab predicts numbers or classes"
        )


def check_has_features(features: pd.DataFrame) -> None:
    if features.shape[1] == 0:
        raise DataValidationError("The table has no feature columns besides the target")
    # any() stops at the first usable column: counting distinct values in every one of
    # 5,000 columns took a second.
    if not any(features[c].nunique(dropna=True) > 1 for c in features.columns):
        raise DataValidationError(
            "Every feature column is constant or empty, so there is nothing to learn from"
        )


def required_rows_per_class(outer_folds: int, inner_folds: int, test_size: float) -> int:
    """Smallest class size that leaves every outer and inner fold with each class present."""
    in_outer_train = max(outer_folds, inner_folds * outer_folds / (outer_folds - 1))
    return math.ceil(in_outer_train / (1 - test_size)) + 1


def check_fold_sizes(
    target: pd.Series, task: TaskKind, outer_folds: int, inner_folds: int, test_size: float
) -> None:
    if len(target) < MIN_ROWS:
        raise DataValidationError(
            f"The table has {len(target)} usable rows; at least {MIN_ROWS} are needed"
        )
    if not is_classification(task):
        _check_regression_folds(len(target), outer_folds, inner_folds, test_size)
        return
    counts = target.value_counts()
    needed = required_rows_per_class(outer_folds, inner_folds, test_size)
    small = counts[counts < needed]
    if not small.empty:
        listed = some_names((f"{label!r} ({count})" for label, count in small.items()), quote=False)
        raise DataValidationError(
            f"Too few rows per class for {outer_folds} outer x {inner_folds} inner folds with "
            f"test_size={test_size}: each class needs at least {needed} rows; too small: {listed}"
        )


def _check_regression_folds(
    rows: int, outer_folds: int, inner_folds: int, test_size: float
) -> None:
    """Every outer training part must still hold at least two rows per inner fold."""
    train_rows = rows - math.ceil(rows * test_size)
    smallest_outer_train = train_rows - math.ceil(train_rows / outer_folds)
    if train_rows < outer_folds or smallest_outer_train < 2 * inner_folds:
        raise DataValidationError(
            f"Too few rows for {outer_folds} outer x {inner_folds} inner folds with "
            f"test_size={test_size}: {rows} rows leave {train_rows} for training; "
            "use fewer folds or more rows"
        )


def consolidated(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its columns in one block per dtype.

    pandas' CSV reader gives every column a block of its own, and each row selection then
    costs one operation per block: on 150 x 5,000 floats an ``iloc`` took 135 ms against 1 ms
    for the same rows in one block, and every trial selects its fold's rows several times.
    """
    return frame.copy()


@dataclass
class ValidatedData:
    features: pd.DataFrame
    target: pd.Series
    dropped_target_rows: int


def split_features_target(frame: pd.DataFrame, target: str) -> ValidatedData:
    """Runs the table-level checks and separates the target; rows without a target are dropped."""
    frame = check_columns(frame)
    if len(frame) == 0:
        raise DataValidationError("The table is empty (no rows)")
    check_target_present(frame, target)
    check_target_values(frame[target])
    features = frame.drop(columns=[target])
    if features.shape[1] and len(frame) < MIN_ROWS:
        raise DataValidationError(
            f"The table has {len(frame)} row{'s' if len(frame) != 1 else ''}; "
            f"at least {MIN_ROWS} are needed"
        )
    check_nested_values(frame)
    check_has_features(features)
    # Class labels may mix digits and words (UCI's house votes: "0" and "democrat"); they
    # are labels, not numbers. A non-numeric regression target is refused with the task.
    check_mixed_types(features)
    check_infinite(frame)
    labelled = frame[target].notna()
    return ValidatedData(
        features=features[labelled],
        target=frame.loc[labelled, target],
        dropped_target_rows=int((~labelled).sum()),
    )

"""Loading and validating the training table before any model code runs.

Every check raises :class:`DataValidationError` with a message that names the column or
value at fault, because a failure deep inside a fit an hour into a search helps nobody.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from tunelab.errors import DataReadError, DataValidationError, ParameterError
from tunelab.sources import is_remote, read_source
from tunelab.task import TaskKind

SUPPORTED_SUFFIXES = (".csv", ".csv.gz", ".parquet", ".pq")
MIN_ROWS = 20


def load_table(source: str | Path | pd.DataFrame) -> pd.DataFrame:
    """Reads a CSV or Parquet file (or passes a DataFrame through), with errors users can act on."""
    if isinstance(source, str) and is_remote(source):  # s3://, https://, postgresql://...
        return read_source(source)
    if isinstance(source, pd.DataFrame):
        return source
    if not isinstance(source, (str, Path)):
        raise DataValidationError(
            f"Data must be a file path or a pandas DataFrame, not {type(source).__name__}"
        )
    path = Path(source)
    name = path.name.lower()
    if not any(name.endswith(suffix) for suffix in SUPPORTED_SUFFIXES):
        raise DataValidationError(
            f"Unsupported file type for {str(path)!r}; use one of: {', '.join(SUPPORTED_SUFFIXES)}"
        )
    if not path.exists():
        raise DataValidationError(f"Data file not found: {str(path)!r}")
    if path.is_dir():
        raise DataValidationError(f"Data path {str(path)!r} is a directory, not a file")
    try:
        if name.endswith((".parquet", ".pq")):
            return pd.read_parquet(path)
        frame = pd.read_csv(path)
        _check_csv_header(path, frame)
        return frame
    except pd.errors.EmptyDataError:
        raise DataValidationError(f"Data file {str(path)!r} is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataValidationError(f"Could not parse {str(path)!r} as CSV: {exc}") from None
    except OSError as exc:
        raise DataReadError(f"Could not read {str(path)!r}: {exc}") from None
    except ValueError as exc:
        raise DataValidationError(f"Could not read {str(path)!r}: {exc}") from None


#: Separators people export instead of commas; a file using one reads as a single column.
OTHER_DELIMITERS = {";": "semicolon", "\t": "tab", "|": "pipe"}
_MANGLED_DUPLICATE = re.compile(r"(.+)\.(\d+)")


def _check_csv_header(path: Path, frame: pd.DataFrame) -> None:
    """Catches what ``read_csv`` silently "fixes": other delimiters and repeated names.

    pandas renames a repeated header ``x1`` to ``x1.1``; the raw first row (read with
    ``header=None``) tells a renamed duplicate from a real column called ``x1.1``.
    """
    if frame.shape[1] == 1:
        header = str(frame.columns[0])
        for delimiter, label in OTHER_DELIMITERS.items():
            if delimiter in header:
                raise DataValidationError(
                    f"{str(path)!r} looks {delimiter!r}-delimited ({label}s in the header "
                    f"{header[:80]!r}); tunelab reads comma-separated files, so save it with "
                    "commas"
                )
    names = [str(c) for c in frame.columns]
    if any((m := _MANGLED_DUPLICATE.fullmatch(n)) and m.group(1) in names for n in names):
        raw = pd.read_csv(path, header=None, nrows=1, dtype=str).iloc[0].tolist()
        raw_names = [str(n) for n in raw]
        duplicates = sorted({n for n in raw_names if raw_names.count(n) > 1})
        if duplicates:
            raise DataValidationError(
                f"Duplicate column names in {str(path)!r}: {', '.join(map(repr, duplicates))}"
            )


def check_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Column names must be unique strings: they key the schema stored with the model."""
    if frame.shape[1] == 0:
        raise DataValidationError("The table has no columns")
    names = [str(c) for c in frame.columns]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise DataValidationError(f"Duplicate column names: {', '.join(map(repr, duplicates))}")
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
    for name in frame.columns:
        column = frame[name]
        if pd.api.types.is_float_dtype(column) and np.isinf(column.to_numpy(dtype=float)).any():
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
    usable = [c for c in features.columns if features[c].dropna().nunique() > 1]
    if not usable:
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
    if task == "regression":
        _check_regression_folds(len(target), outer_folds, inner_folds, test_size)
        return
    counts = target.value_counts()
    needed = required_rows_per_class(outer_folds, inner_folds, test_size)
    small = counts[counts < needed]
    if not small.empty:
        listed = ", ".join(f"{label!r} ({count})" for label, count in small.items())
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

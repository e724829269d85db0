"""Search checkpoints as plain JSON: a planted or damaged file can fail, never run code.

Checkpoints used to be pickled ``hyperopt.Trials``; unpickling a file from a shared data dir
runs whatever code it names. Here only hyperopt's trial documents are stored (numpy scalars as
numbers, datetimes as ISO-8601 text), every document is checked on read, and a ``Trials`` is
rebuilt from them with ``insert_trial_docs`` + ``refresh``. TPE only reads these documents,
so a resumed search proposes exactly what an uninterrupted one would have.
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from hyperopt import JOB_STATES, STATUS_STRINGS, Trials

from tunelab.atomic import write_bytes_atomic
from tunelab.errors import CheckpointError
from tunelab.run_files import TrialResultFile, check_shape

FORMAT = "tunelab-trials"
FORMAT_VERSION = 1
_TRIAL_KEYS = frozenset(
    {
        "state",
        "tid",
        "spec",
        "result",
        "misc",
        "exp_key",
        "owner",
        "version",
        "book_time",
        "refresh_time",
    }  # fmt: skip
)
_MISC_KEYS = frozenset({"tid", "cmd", "workdir", "idxs", "vals"})
_TIME_KEYS = ("book_time", "refresh_time")


def save_trials(path: Path, trials: Trials | list[dict[str, Any]]) -> None:
    """Writes every trial document atomically (the previous checkpoint survives a crash)."""
    docs = [_to_json(doc) for doc in (trials.trials if isinstance(trials, Trials) else trials)]
    payload = {"format": FORMAT, "version": FORMAT_VERSION, "trials": docs}
    write_bytes_atomic(path, json.dumps(payload, separators=(",", ":")).encode())


def load_trials(path: Path) -> Trials:
    """The ``Trials`` saved at ``path``; :class:`CheckpointError` if it is not a valid one."""
    try:
        raw = json.loads(path.read_bytes())
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise _corrupt(path, f"not valid JSON: {str(exc)[:200]}") from None
    except OSError as exc:
        raise CheckpointError(f"Could not read the checkpoint {str(path)!r}: {exc}") from None
    try:
        docs = _validated_docs(raw)
    except _Invalid as exc:
        raise _corrupt(path, str(exc)) from None
    trials = Trials()
    trials.insert_trial_docs(docs)
    trials.refresh()
    return trials


def _corrupt(path: Path, detail: str) -> CheckpointError:
    return CheckpointError(
        f"The checkpoint {str(path)!r} is corrupt or was not written by tunelab ({detail}); "
        "delete it to redo that search, or start afresh with a new --run-id"
    )


# --- writing ---------------------------------------------------------------------------------
def _to_json(value: Any) -> Any:
    """hyperopt's documents hold numpy scalars, tuples and datetimes; JSON needs plain types."""
    if isinstance(value, dict):
        return {str(k): _to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_json(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_to_json(v) for v in value.tolist()]
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if value is None or isinstance(value, (str, int, float)):
        return value
    raise TypeError(f"Cannot store {type(value).__name__} in a trials checkpoint: {value!r}")


# --- reading ---------------------------------------------------------------------------------
class _Invalid(Exception):
    """What is wrong with a checkpoint, for the error message."""


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise _Invalid(message)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _validated_docs(raw: Any) -> list[dict[str, Any]]:
    _require(isinstance(raw, dict), "the top level is not an object")
    _require(raw.get("format") == FORMAT, f"'format' is not {FORMAT!r}")
    _require(raw.get("version") == FORMAT_VERSION, f"unsupported version {raw.get('version')!r}")
    docs = raw.get("trials")
    _require(isinstance(docs, list), "'trials' is not a list")
    checked, previous = [], -1
    for position, doc in enumerate(docs):
        checked.append(_validated_doc(doc, position, previous))
        previous = doc["tid"]
    return checked


def _validated_doc(doc: Any, position: int, previous: int) -> dict[str, Any]:
    where = f"trial {position}"
    _require(isinstance(doc, dict), f"{where} is not an object")
    _require(set(doc) == _TRIAL_KEYS, f"{where} has keys {sorted(doc)}")
    # run_search numbers trials 0, 1, 2, ... in the order it proposes them; trials run at
    # once finish in any order, so a killed search may leave gaps (trials in flight).
    tid = doc["tid"]
    _require(_is_int(tid) and tid > previous, f"{where} has tid {tid!r} after {previous}")
    number = tid
    _require(doc["state"] in JOB_STATES and _is_int(doc["state"]), f"{where}: bad state")
    _require(doc["spec"] is None and doc["exp_key"] is None, f"{where}: unexpected spec/exp_key")
    _require(_is_int(doc["version"]), f"{where}: bad version")
    _require(doc["owner"] is None or isinstance(doc["owner"], (str, list)), f"{where}: bad owner")
    _check_result(doc["result"], where)
    misc = _checked_misc(doc["misc"], number, where)
    times = {key: _parse_time(doc[key], f"{where} {key}") for key in _TIME_KEYS}
    return {**doc, "misc": misc, **times}


def _check_result(result: Any, where: str) -> None:
    _require(isinstance(result, dict), f"{where}: result is not an object")
    _require(result.get("status") in STATUS_STRINGS, f"{where}: bad result status")
    try:
        check_shape(TrialResultFile, result)
    except ValueError as exc:
        raise _Invalid(f"{where} result.{exc}") from None
    loss = result.get("loss")
    if _is_number(loss):
        _require(not math.isnan(loss), f"{where}: loss is NaN")


def _checked_misc(misc: Any, tid: int, where: str) -> dict[str, Any]:
    _require(isinstance(misc, dict) and set(misc) == _MISC_KEYS, f"{where}: bad misc")
    _require(misc["tid"] == tid and _is_int(misc["tid"]), f"{where}: misc.tid mismatch")
    cmd = misc["cmd"]
    _require(
        isinstance(cmd, list) and len(cmd) == 2 and all(isinstance(c, str) for c in cmd),
        f"{where}: bad misc.cmd",
    )
    _require(misc["workdir"] is None or isinstance(misc["workdir"], str), f"{where}: bad workdir")
    idxs, vals = misc["idxs"], misc["vals"]
    _require(isinstance(idxs, dict) and isinstance(vals, dict), f"{where}: bad idxs/vals")
    _require(set(idxs) == set(vals), f"{where}: idxs and vals name different parameters")
    for label, positions in idxs.items():
        values = vals[label]
        _require(
            isinstance(positions, list) and isinstance(values, list),
            f"{where}: {label} is not a list",
        )
        _require(len(positions) == len(values) <= 1, f"{where}: {label} has several values")
        _require(all(p == tid and _is_int(p) for p in positions), f"{where}: {label} bad idx")
        _require(
            all(_is_number(v) and math.isfinite(v) for v in values),
            f"{where}: {label} value is not a finite number",
        )
    return {**misc, "cmd": tuple(cmd)}


def _parse_time(value: Any, where: str) -> datetime | None:
    if value is None:
        return None
    _require(isinstance(value, str), f"{where} is not text")
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise _Invalid(f"{where} is not an ISO-8601 time") from None

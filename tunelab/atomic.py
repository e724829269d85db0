"""Atomic file writes: a crash leaves either the old file or the new one, never half of one.

``tempfile.mkstemp`` and ``mkdtemp`` create 0600 files and 0700 folders whatever the umask,
which would make a shared registry unreadable to everyone but its writer. Everything created
here is therefore chmod-ed to the mode a plain ``open``/``mkdir`` would have given.

Operating-system failures (disk full, read-only folder, a file where a folder should be)
become a :class:`StorageError` naming the path, so users see one line instead of a traceback.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from tunelab.errors import StorageError, TunelabError

#: Errors that may pass by themselves (network shares); everything else needs the user.
_TRANSIENT_ERRNOS = frozenset(
    {errno.EIO, errno.EAGAIN, errno.ETIMEDOUT, errno.EINTR, getattr(errno, "ESTALE", -1)}
)


def _umask_from_proc() -> int | None:
    """Linux exposes the umask without changing it (``os.umask`` is set-and-return)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        return None
    return None


def _umask_at_import() -> int:
    # Fallback for systems without /proc: read once, at import, before worker threads exist.
    value = os.umask(0o022)
    os.umask(value)
    return value


_IMPORT_UMASK = _umask_from_proc()
if _IMPORT_UMASK is None:
    _IMPORT_UMASK = _umask_at_import()


def current_umask() -> int:
    """The process umask, read without the race of setting and restoring it."""
    value = _umask_from_proc()
    return int(_IMPORT_UMASK or 0) if value is None else value


def file_mode() -> int:
    """Mode a plain ``open(path, "w")`` would create: 0666 minus the umask."""
    return 0o666 & ~current_umask()


def dir_mode() -> int:
    """Mode a plain ``mkdir`` would create: 0777 minus the umask."""
    return 0o777 & ~current_umask()


def storage_error(action: str, path: Path | str, exc: OSError) -> StorageError:
    """One readable line for a failed write, naming the path and the OS reason."""
    reason = exc.strerror or str(exc)
    return StorageError(
        f"Could not {action} {str(path)!r}: {reason}",
        retryable=exc.errno in _TRANSIENT_ERRNOS,
    )


def make_dirs(path: Path) -> Path:
    """``mkdir -p`` with a readable error (a file in the way, read-only, disk full)."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise storage_error("create the folder", path, exc) from None
    return path


def make_temp_dir(parent: Path, prefix: str) -> Path:
    """A fresh private-named folder that still gets the umask's permissions."""
    try:
        path = Path(tempfile.mkdtemp(dir=parent, prefix=prefix))
        os.chmod(path, dir_mode())
    except OSError as exc:
        raise storage_error("create a folder in", parent, exc) from None
    return path


def write_bytes_atomic(path: Path, payload: bytes) -> None:
    """Writes via a temporary file in the same folder, fsync and rename (see
    :func:`atomic_writer`)."""
    with atomic_writer(path) as handle:
        handle.write(payload)


@contextlib.contextmanager
def atomic_writer(path: Path) -> Iterator[BinaryIO]:
    """A binary handle on a temporary file in ``path``'s folder, renamed over ``path`` (after
    fsync) when the block ends without an error, and deleted when it raises: output written
    in pieces (batch prediction) appears whole or not at all.

    Refuses to replace anything but a regular file: as root, renaming over ``/dev/null`` or
    a FIFO would replace the device node itself.
    """
    make_dirs(path.parent)
    if path.exists() and not path.is_file():
        raise StorageError(f"Refusing to write {str(path)!r}: it exists and is not a regular file")
    tmp_name = ""
    try:
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), file_mode())
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except OSError as exc:
        if tmp_name:
            Path(tmp_name).unlink(missing_ok=True)
        if isinstance(exc, TunelabError):
            raise
        raise storage_error("write", path, exc) from None
    except BaseException:
        if tmp_name:
            Path(tmp_name).unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, data: Any) -> None:
    write_bytes_atomic(path, json.dumps(data, indent=2, default=str).encode())

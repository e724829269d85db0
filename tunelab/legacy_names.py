"""Model files written before tunelab's own modules moved under ``tunelab.*`` still load.

tunelab 0.1.0 installed ``models``, ``pipelines``, ``flows`` and ``deployments`` as top-level
packages, so its skops files name classes such as ``models.boosting.EarlyStoppingLGBMClassifier``.
Those names are gone (they shadowed a user's own ``models`` package); this module rewrites them
in a file's schema, in memory, to the names the classes have now. The file on disk and its
checksum are left as they were, and the allow-list check runs on the rewritten names, so an
old file is held to exactly the rules a new one is.
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

#: Old top-level module prefixes and where those modules live now.
RENAMED_PREFIXES = {
    "models.": "tunelab.models.",
    "pipelines.": "tunelab.pipelines.",
}
#: The schema keys that hold a module path (classes, and functions stored by reference).
_MODULE_KEYS = ("__module__", "module_path")
SCHEMA_FILE = "schema.json"


def modern_name(module: str) -> str:
    """``module`` as it is called now (unchanged if it was never renamed)."""
    for old, new in RENAMED_PREFIXES.items():
        if module.startswith(old):
            return new + module[len(old) :]
    return module


def modernise(data: bytes) -> bytes:
    """A skops file's bytes with renamed modules rewritten; the same bytes if none were.

    Anything that is not a readable skops archive is returned unchanged, so the loader's own
    checks report it as they would have.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            schema = json.loads(archive.read(SCHEMA_FILE))
            if not _rename_modules(schema):
                return data
            return _rewritten(archive, json.dumps(schema).encode())
    except (zipfile.BadZipFile, KeyError, ValueError, RecursionError):
        return data


def _rename_modules(node: Any) -> bool:
    """Rewrites module paths in place, iteratively (a schema can nest deeply); any changed?"""
    changed = False
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, dict):
            for key, value in current.items():
                if key in _MODULE_KEYS and isinstance(value, str):
                    renamed = modern_name(value)
                    changed |= renamed != value
                    current[key] = renamed
                elif isinstance(value, (dict, list)):
                    stack.append(value)
        elif isinstance(current, list):
            stack.extend(v for v in current if isinstance(v, (dict, list)))
    return changed


def _rewritten(archive: zipfile.ZipFile, schema: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as out:
        for info in archive.infolist():
            payload = schema if info.filename == SCHEMA_FILE else archive.read(info)
            out.writestr(info.filename, payload)
    return buffer.getvalue()

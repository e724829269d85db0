"""Is a process still running? One answer for every lock, lease and staging folder."""

from __future__ import annotations

import os


def process_alive(pid: int) -> bool:
    """True unless the process is known to be gone (another user's process counts as alive:
    a signal we may not send still proves it exists)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError included
        return True
    return True

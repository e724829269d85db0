"""Stopping a run cleanly on Ctrl-C or SIGTERM.

A signal sets :data:`STOP`; every search checks it between inner folds and before each
trial, so the run stops within one fold fit. The trial in flight is not checkpointed (a
resumed run redoes it and so proposes exactly what an uninterrupted run would have).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

STOP = threading.Event()


class RunInterrupted(KeyboardInterrupt):
    """Raised inside a search when :data:`STOP` is set; a BaseException, so no trial swallows it."""


def check_stop() -> None:
    if STOP.is_set():
        raise RunInterrupted("run interrupted")


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """SIGINT and SIGTERM set :data:`STOP` and interrupt the main thread once."""

    def handle(signum: int, frame: FrameType | None) -> None:
        already = STOP.is_set()
        STOP.set()
        if not already:
            raise RunInterrupted(f"received {signal.Signals(signum).name}")

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    STOP.clear()
    for sig in previous:
        signal.signal(sig, handle)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

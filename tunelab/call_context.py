"""What a caller hands the engine besides the configuration: preloaded data, its start time.

Context variables, not parameters, because the Prefect flow's parameters must stay the
JSON settings a person sees in the UI; the caller and the flow share this process.
"""

from __future__ import annotations

import contextvars
from typing import Any


class Handoff:
    """A value passed on once: whoever takes it holds the only reference.

    Why: the caller's validated table would otherwise stay alive for the whole run beside
    the engine's train and test parts; on a million rows that is one more copy of the table
    at the run's peak. The engine lets its copy go once it has split the rows.
    """

    def __init__(self, value: Any):
        self._value = value

    def take(self) -> Any:
        value, self._value = self._value, None
        return value


#: Data the caller already loaded and validated for this config (the CLI and API do, to
#: fail fast before Prefect starts), so the engine does not read and hash it a second time.
PRELOADED: contextvars.ContextVar[Handoff | None] = contextvars.ContextVar(
    "tunelab_preloaded", default=None
)
#: When the user's call started (``time.time()``), if earlier than the engine itself.
CALL_STARTED: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "tunelab_call_started", default=None
)

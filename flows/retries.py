"""Which task failures Prefect should retry."""

from __future__ import annotations

from tunelab.errors import TunelabError
from tunelab.sources import is_out_of_memory


def retry_unless_user_error(task, task_run, state) -> bool:
    """Retrying cannot fix bad input, but it can outlast a flaky disk or network share.

    Running out of memory is not transient either: the same table needs the same memory on
    the next attempt, so it fails once instead of three times.
    """
    exception = state.result(raise_on_failure=False)
    if isinstance(exception, MemoryError) or is_out_of_memory(exception):
        return False
    return not isinstance(exception, TunelabError) or exception.retryable

"""Which task failures Prefect should retry."""

from __future__ import annotations

from tunelab.errors import TunelabError


def retry_unless_user_error(task, task_run, state) -> bool:
    """Retrying cannot fix bad input, but it can outlast a flaky disk or network share."""
    exception = state.result(raise_on_failure=False)
    return not isinstance(exception, TunelabError) or exception.retryable

"""Prefect settings tunelab needs before Prefect is imported, and the embedded server's start.

Why: on a fresh machine Prefect's temporary server creates its SQLite database on first use,
which can outlast the 20 s Prefect waits for it on a loaded 2-core machine; the first run of
a newcomer then crashed. We wait longer and say what is happening.
"""

from __future__ import annotations

import os
import sys

#: Seconds to wait for the embedded server; creating its database is the slow part.
EPHEMERAL_STARTUP_TIMEOUT = "300"

os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", EPHEMERAL_STARTUP_TIMEOUT)
# Prefect's telemetry heartbeat races the embedded SQLite server at start-up and prints a
# "database is locked" traceback; it sends nothing useful from here anyway.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


def announce_first_start() -> None:
    """One line on stderr when the embedded server will have to create its database."""
    if os.environ.get("PREFECT_API_URL"):
        return
    from prefect.settings import get_current_settings

    url = str(get_current_settings().server.database.connection_url or "")
    if url.startswith("sqlite") and ":///" in url:
        path = url.split(":///", 1)[1]
        if path and not os.path.exists(path):
            print(
                "Starting Prefect's local server for the first time: creating its database "
                f"at {path} (this can take a minute once)...",
                file=sys.stderr,
            )


def running_api_url() -> str:
    """The API this process talks to: ``PREFECT_API_URL`` or the embedded server's address."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return str(client.api_url).rstrip("/")


def install_log_filter() -> None:
    """The terminal shows one line for bad input; the Prefect API (the UI) keeps the traceback."""
    import logging

    from prefect.logging.configuration import setup_logging

    from tunelab.errors import TunelabError

    class HideUserErrorTracebacks(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            if record.exc_info and isinstance(record.exc_info[1], TunelabError):
                record.exc_info = None
                record.exc_text = None
            return True

    setup_logging()
    for handler in logging.getLogger().handlers:
        handler.addFilter(HideUserErrorTracebacks())


def prepare_cli_session() -> None:
    """What a command-line call needs before its flow runs: quiet errors, a first-run note."""
    install_log_filter()
    announce_first_start()

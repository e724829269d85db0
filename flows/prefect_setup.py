"""Prefect settings tunelab needs before Prefect is imported, and the embedded server's start.

Why: on a fresh machine Prefect's temporary server creates its SQLite database on first use,
which can outlast the 20 s Prefect waits for it on a loaded 2-core machine; the first run of
a newcomer then crashed. We wait longer and say what is happening.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import socket
import subprocess
import sys
import time

#: Seconds to wait for the embedded server; creating its database is the slow part.
EPHEMERAL_STARTUP_TIMEOUT = "300"

os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", EPHEMERAL_STARTUP_TIMEOUT)
# Prefect's telemetry heartbeat races the embedded SQLite server at start-up and prints a
# "database is locked" traceback; it sends nothing useful from here anyway.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


#: The embedded server this process started, if any (see :func:`start_server_early`).
_server: subprocess.Popen[bytes] | None = None
_server_url = ""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server_early() -> None:
    """Starts Prefect's embedded server now, in its own process, and points this one at it.

    Prefect would start its temporary server only when the first flow run is created, after
    the imports and the data loading: seconds of a user's time budget spent waiting in line.
    Started here (the same uvicorn command Prefect runs, before Prefect is even imported), it
    boots on the other core while this process imports libraries and reads the table, and
    Dask workers find it through the inherited ``PREFECT_API_URL``. It is stopped at exit
    without waiting for its shutdown.
    """
    global _server, _server_url
    if os.environ.get("PREFECT_API_URL") or _server is not None:
        return
    spec = importlib.util.find_spec("prefect")
    if spec is None or spec.origin is None:
        return
    app_dir = os.path.dirname(os.path.dirname(spec.origin))
    port = _free_port()
    _server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--app-dir",
            app_dir,
            "--factory",
            "prefect.server.api.server:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "error",
            "--lifespan",
            "on",
        ],  # fmt: skip
        env={
            **os.environ,
            "PREFECT_UI_ENABLED": "0",
            "PREFECT__SERVER_EPHEMERAL": "1",
            "PREFECT__SERVER_FINAL": "1",
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _server_url = f"http://127.0.0.1:{port}/api"
    os.environ["PREFECT_API_URL"] = _server_url
    atexit.register(_stop_server)
    announce_first_start()


def _stop_server() -> None:
    if _server is not None and _server.poll() is None:
        _server.terminate()  # it finishes shutting down on its own; nobody waits for it


def stop_early_server() -> None:
    """Stops the early server and forgets it (for callers that run several commands in one
    process, such as tests calling the CLI's ``main``)."""
    global _server, _server_url
    if _server is None:
        return
    _stop_server()
    if os.environ.get("PREFECT_API_URL") == _server_url:
        del os.environ["PREFECT_API_URL"]
    _server, _server_url = None, ""


def wait_for_early_start() -> None:
    """Blocks until the early server answers (see :func:`wait_until_healthy`)."""
    if _server is not None:
        wait_until_healthy(_server_url, _server)


def wait_until_healthy(
    api_url: str,
    process: subprocess.Popen[bytes],
    timeout: float = float(EPHEMERAL_STARTUP_TIMEOUT),
) -> None:
    """Waits for a server this process started; one that died or never answers is one
    readable error, not a traceback."""
    import httpx

    from tunelab.errors import TunelabError

    advice = "run with --no-prefect, or start `prefect server start` and set PREFECT_API_URL"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            detail = (process.stderr.read() if process.stderr else b"").decode(errors="replace")
            last = detail.strip().splitlines()[-1:] or ["no output"]
            raise TunelabError(
                f"Prefect's local server exited with code {process.returncode} ({last[0]}); "
                + advice
            )
        try:
            if httpx.get(f"{api_url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TunelabError(f"Prefect's local server did not answer within {timeout:.0f}s; {advice}")


def announce_first_start() -> None:
    """One line on stderr when the embedded server will have to create its database.

    Read from the environment, not from Prefect's settings, so Prefect need not be imported.
    """
    if any(
        os.environ.get(name)
        for name in (
            "PREFECT_API_DATABASE_CONNECTION_URL",
            "PREFECT_SERVER_DATABASE_CONNECTION_URL",
        )
    ):
        return
    home = os.path.expanduser(os.environ.get("PREFECT_HOME") or "~/.prefect")
    path = os.path.join(home, "prefect.db")
    if not os.path.exists(path):
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
    """What a command-line call needs before its flow runs: quiet errors, a ready server."""
    install_log_filter()
    wait_for_early_start()

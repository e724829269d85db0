"""Prefect settings tunelab needs before Prefect is imported, and the embedded server's start.

Why: on a fresh machine Prefect's temporary server creates its SQLite database on first use,
which can outlast the 20 s Prefect waits for it on a loaded 2-core machine; the first run of
a newcomer then crashed. We wait longer and say what is happening.
"""

from __future__ import annotations

import atexit
import gc
import http.client
import importlib
import importlib.util
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

#: Seconds to wait for the embedded server; creating its database is the slow part.
EPHEMERAL_STARTUP_TIMEOUT = "300"

os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", EPHEMERAL_STARTUP_TIMEOUT)
# Prefect's telemetry heartbeat races the embedded SQLite server at start-up and prints a
# "database is locked" traceback; it sends nothing useful from here anyway.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


#: The embedded server this process started, if any (see :func:`start_server_early`).
_server: subprocess.Popen[bytes] | None = None
_server_url = ""
#: The shared servers this process leased (see :mod:`tunelab.flows.local_server`), and every
#: address this process pointed itself at.
_shared_servers: list[Any] = []
_started_urls: set[str] = set()
#: Seconds between two looks at a starting server.
POLL_SECONDS = 0.05
#: The training flow's name (``flows.training``), which the server warm-up creates early.
TRAIN_FLOW_NAME = "tunelab-train"
#: The share of its time budget a run waits for a shared server that is still creating its
#: database (the first start on a machine: 15-25 s on 2 cores); past it the run goes on
#: without Prefect, and the server finishes for the next call (see :func:`ready_in_time`).
FIRST_START_WAIT_SHARE = 0.2
#: Whether the server :func:`start_server_early` started must create its database first.
_creating_database = False


def server_environment() -> dict[str, str]:
    """The environment of the embedded server: this process's, plus what keeps it lean.

    Registering Prefect's block types at start-up first imports every installed Prefect
    collection (prefect-dask pulls in dask.distributed): about a second of a loaded machine's
    start-up, for block types a training run never uses. ``prefect server start`` (the UI,
    ``tunelab serve``) still registers them in the same database. A user's own setting wins.
    """
    return {
        "PREFECT_API_BLOCKS_REGISTER_ON_START": "false",
        "PREFECT_MEMOIZE_BLOCK_AUTO_REGISTRATION": "false",
        **os.environ,
        "PREFECT_UI_ENABLED": "0",
        "PREFECT__SERVER_EPHEMERAL": "1",
        "PREFECT__SERVER_FINAL": "1",
    }


def owns_server() -> bool:
    """Whether this process talks to an embedded server tunelab started (itself or, for a
    shared one, an earlier call)."""
    return bool(_server_url) and os.environ.get("PREFECT_API_URL") == _server_url


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server_early() -> None:
    """Starts Prefect's embedded server now, in its own process, and points this one at it.

    Prefect would start its temporary server only when the first flow run is created, after
    the imports and the data loading: seconds of a user's time budget spent waiting in line.
    Started here (the uvicorn command Prefect runs, with :func:`create_server_app` as the
    app, before Prefect is even imported), it boots on the other core while this process
    imports libraries and reads the table, and Dask workers find it through the inherited
    ``PREFECT_API_URL``. A thread waits for it to answer and sends it the first requests a
    flow run makes, so its one-off warm-up (database connections, first queries) also happens
    while this process is busy; the garbage collector is paused meanwhile (see
    :func:`pause_collection`).

    By default the server is shared (:mod:`tunelab.flows.local_server`): a server an earlier call
    left running is reused, and one started now outlives this process until it has been idle
    for ``TUNELAB_PREFECT_IDLE_SECONDS``. With that set to 0 the server is this process's
    own, stopped at exit without waiting for its shutdown.
    """
    global _server, _server_url, _start, _creating_database
    if _server is not None or _api_configured():
        return
    if importlib.util.find_spec("prefect") is None:
        return
    from tunelab.flows.local_server import idle_seconds, import_root

    # The folder holding this package, so the server finds create_server_app wherever
    # tunelab was installed from.
    app_dir = import_root()
    if idle_seconds() > 0:
        _server_url, process, started = _lease_shared_server(app_dir)
    else:
        _server_url, process, started = _start_own_server(app_dir)
    os.environ["PREFECT_API_URL"] = _server_url
    _started_urls.add(_server_url)
    _creating_database = started and announce_first_start()
    _start = _ServerStart(_server_url, process)
    pause_collection()


def _lease_shared_server(app_dir: str) -> tuple[str, Any, bool]:
    """The shared server's address and process, and whether this call started it."""
    from tunelab.flows.local_server import acquire

    shared, started = acquire(
        app_dir, lambda port: _server_command(app_dir, port), _free_port(), server_environment()
    )
    if not _shared_servers:
        atexit.register(release_server)
    _shared_servers.append(shared)
    return shared.url, shared.process, started


def _start_own_server(app_dir: str) -> tuple[str, Any, bool]:
    """A server for this process only, stopped at its exit."""
    global _server
    port = _free_port()
    _server = subprocess.Popen(
        _server_command(app_dir, port),
        env=server_environment(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    atexit.register(_stop_server)
    return f"http://127.0.0.1:{port}/api", _server, True


def _server_command(app_dir: str, port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "--app-dir",
        app_dir,
        "--factory",
        f"{__name__}:create_server_app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "error",
        "--lifespan",
        "on",
    ]  # fmt: skip


def _api_configured() -> bool:
    """Whether the caller chose a Prefect API (``PREFECT_API_URL``, or Prefect's settings once
    it is imported, e.g. a test harness): then no server is started. Addresses of servers
    this process started itself do not count: a later call checks those again."""
    url = os.environ.get("PREFECT_API_URL")
    if url:
        return url not in _started_urls
    settings = sys.modules.get("prefect.settings")
    if settings is None:
        return bool(profile_api_url())
    value = settings.PREFECT_API_URL.value()
    return bool(value) and value not in _started_urls


def profile_api_url() -> str:
    """``PREFECT_API_URL`` of the active Prefect profile (``prefect profile use``, e.g. a
    Prefect Cloud workspace), read from ``profiles.toml`` without importing Prefect."""
    import tomllib

    home = os.path.expanduser(os.environ.get("PREFECT_HOME") or "~/.prefect")
    path = os.environ.get("PREFECT_PROFILES_PATH") or os.path.join(home, "profiles.toml")
    try:
        with open(os.path.expanduser(path), "rb") as handle:
            profiles = tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError):
        return ""
    active = os.environ.get("PREFECT_PROFILE") or profiles.get("active") or "ephemeral"
    profile = (profiles.get("profiles") or {}).get(active) or {}
    return str(profile.get("PREFECT_API_URL") or "") if isinstance(profile, dict) else ""


def release_server() -> None:
    """This process's calls are done with the shared server: its idle clock may start."""
    from tunelab.flows.local_server import release

    for shared in _shared_servers:
        release(shared)


def current_server_url() -> str:
    """The address of the server :func:`start_server_early` found or started ("" if none)."""
    return _server_url


#: Whether :func:`pause_collection` paused the garbage collector (and it is still paused).
_paused = False


def pause_collection() -> None:
    """Pauses Python's cyclic garbage collector while this process imports its libraries
    (until :func:`resume_collection`): a fifth of the import time is collector passes that
    find no garbage. A collector someone else turned off stays off."""
    global _paused
    if gc.isenabled():
        gc.disable()
        _paused = True


def resume_collection() -> None:
    """Freezes what is loaded so far out of later collector passes, and resumes collecting."""
    global _paused
    if _paused:
        gc.freeze()
        gc.enable()
        _paused = False


def create_server_app() -> Any:
    """Prefect's server app (``prefect.server.api.server.create_app``), built with Python's
    cyclic garbage collector paused: importing the server allocates objects by the million and
    none of them is garbage, so the collector's passes are a fifth of its start-up CPU time
    for nothing. What was loaded is then frozen out of later passes, and collection resumes."""
    gc.disable()
    try:
        from prefect.server.api.server import create_app

        from tunelab.flows.local_server import watch_when_idle

        return watch_when_idle(create_app())
    finally:
        gc.freeze()
        gc.enable()


class _ServerStart:
    """Waits, on a thread of its own, for a server to answer, then warms it up; an error is
    kept for whoever waits on it (see :func:`wait_for_early_start`)."""

    def __init__(self, api_url: str, process: Any):
        self.ready = threading.Event()
        self.failure: BaseException | None = None
        threading.Thread(
            target=self._watch, args=(api_url, process), name="prefect-server-start", daemon=True
        ).start()

    def _watch(self, api_url: str, process: Any) -> None:
        try:
            wait_until_healthy(api_url, process)
            warm_up(api_url)
        except BaseException as exc:
            self.failure = exc
        finally:
            self.ready.set()

    def wait(self) -> None:
        self.ready.wait()
        if self.failure is not None:
            raise self.failure


#: The start of the server :func:`start_server_early` started or found last.
_start: _ServerStart | None = None


def warm_up(api_url: str) -> None:
    """The server's first answers to a flow run's first requests are slow (connections,
    first queries); asking them now takes that off the flow run's start. Best effort."""
    requests = (
        ("GET", "/admin/version", None),
        ("POST", "/flows/", {"name": TRAIN_FLOW_NAME}),  # the flow run creates it anyway
        ("POST", "/flow_runs/filter", {"limit": 1}),
    )
    for method, path, body in requests:
        try:
            _request(api_url, method, path, body, timeout=10)
        except (OSError, http.client.HTTPException):
            return


def _stop_server() -> None:
    if _server is not None and _server.poll() is None:
        _server.terminate()  # it finishes shutting down on its own; nobody waits for it


def stop_early_server() -> None:
    """Stops this process's early server (a shared one is only released) and forgets it,
    for callers that run several commands in one process, such as tests calling ``main``."""
    global _server, _server_url, _start
    if not _server_url:
        return
    _stop_server()
    release_server()
    resume_collection()
    if os.environ.get("PREFECT_API_URL") == _server_url:
        del os.environ["PREFECT_API_URL"]
    _server, _server_url, _start = None, "", None
    _shared_servers.clear()


def wait_for_early_start(imports: Iterable[str] = ()) -> list[str]:
    """Blocks until the early server answers (see :func:`wait_until_healthy`), importing the
    given modules meanwhile, in order, while it has not: the run needs them soon after, and
    the time would otherwise be spent waiting. Returns the ones not imported yet."""
    names = list(imports)
    start = _start
    if start is None:
        return names
    while names and not start.ready.is_set():
        importlib.import_module(names.pop(0))
    start.wait()
    return names


def import_in_background(names: Iterable[str]) -> None:
    """Imports ``names`` in order on a daemon thread, for a caller that waits on the Prefect
    API meanwhile. A module that fails here raises again where the run imports it."""

    def run() -> None:
        for name in names:
            try:
                importlib.import_module(name)
            except Exception:
                return

    threading.Thread(target=run, name="tunelab-imports", daemon=True).start()


def _request(
    api_url: str, method: str, path: str, body: object = None, timeout: float = 2.0
) -> int:
    """One plain HTTP request to the API (no TLS, no client set-up: cheap to repeat)."""
    url = urlsplit(api_url)
    connection = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=timeout)
    try:
        payload = None if body is None else json.dumps(body)
        headers = {"Content-Type": "application/json"} if payload is not None else {}
        connection.request(method, url.path.rstrip("/") + path, body=payload, headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def wait_until_healthy(
    api_url: str,
    process: subprocess.Popen[bytes],
    timeout: float = float(EPHEMERAL_STARTUP_TIMEOUT),
) -> None:
    """Waits for a server this process started; one that died or never answers is one
    readable error, not a traceback."""
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
            if _request(api_url, "GET", "/health") == 200:
                return
        except (OSError, http.client.HTTPException):
            pass
        time.sleep(POLL_SECONDS)
    raise TunelabError(f"Prefect's local server did not answer within {timeout:.0f}s; {advice}")


def announce_first_start() -> bool:
    """One line on stderr when the embedded server will have to create its database;
    returns whether it must.

    Read from the environment, not from Prefect's settings, so Prefect need not be imported.
    """
    if any(
        os.environ.get(name)
        for name in (
            "PREFECT_API_DATABASE_CONNECTION_URL",
            "PREFECT_SERVER_DATABASE_CONNECTION_URL",
        )
    ):
        return False
    home = os.path.expanduser(os.environ.get("PREFECT_HOME") or "~/.prefect")
    path = os.path.join(home, "prefect.db")
    if os.path.exists(path):
        return False
    print(
        "Starting Prefect's local server for the first time: creating its database "
        f"at {path} (this can take a minute once)...",
        file=sys.stderr,
    )
    return True


def ready_in_time(time_budget: float | None, started: float) -> bool:
    """Is the early server up, or up within :data:`FIRST_START_WAIT_SHARE` of the budget?

    Why: creating Prefect's database on a machine's first run takes 15-25 s on 2 cores, so
    a run with a 10 s budget returned after 24 s, and one of 30 s had no time left for its
    final search. Only that first start, by a shared server (which outlives this call and
    so finishes its database for the next one), under a time budget, can answer no; then
    the run goes without Prefect. Every other run waits for its server as before.
    """
    start = _start
    if start is None or time_budget is None or not _creating_database or _server is not None:
        return True
    return start.ready.wait(max(0.0, started + FIRST_START_WAIT_SHARE * time_budget - time.time()))


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


def prepare_cli_session(imports: Iterable[str] = (), later: Iterable[str] = ()) -> None:
    """What a command-line call needs before its flow runs: quiet errors, a ready server.

    ``imports`` (modules the run needs first) are imported while the server still starts;
    those left when it answers, then ``later``, in the background while the flow run is
    created. The garbage collector, paused since the server was started, resumes here.
    """
    install_log_filter()
    if _start is None:  # no early server (PREFECT_API_URL was set): nothing to overlap
        return
    try:
        left = wait_for_early_start(imports)
    finally:
        resume_collection()
    import_in_background([*left, *later])

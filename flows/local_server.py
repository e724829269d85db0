"""A local Prefect server that successive tunelab calls share, and that ends itself when idle.

Why: every ``tunelab run`` or ``tunelab.train`` call used to start Prefect's server and stop
it at its end: 2.5-4 s of each CLI call and 13-14 s of each API call on a 2-core machine
(``benchmarks/server_start.py``), paid again by the next call a minute later. The first call
now starts a detached server (its own session, its log in a file) and records it in a state
folder under ``PREFECT_HOME``; the next call finds it, checks that it answers and uses it.

The server ends itself after ``TUNELAB_PREFECT_IDLE_SECONDS`` (default 600) with no request
and no call using it: each call holds a lease (a file named after its process id) while it
runs, and leases of processes that died are ignored, so a killed run does not keep it alive.
``TUNELAB_PREFECT_IDLE_SECONDS=0`` restores a server per call, stopped when the call ends
(the test suite runs so). One lock file serialises finding, starting and ending the server,
so two calls starting at once share one server and none reuses a server that is ending.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from tunelab.processes import process_alive

#: How long the shared server waits, with no request and no call using it, before it ends.
IDLE_ENV = "TUNELAB_PREFECT_IDLE_SECONDS"
DEFAULT_IDLE_SECONDS = 600.0
#: Set in the server's own environment: the state folder it reports to and ends through.
STATE_DIR_ENV = "TUNELAB_PREFECT_SERVER_DIR"
#: What identifies a tunelab server process (checked before one is reused or stopped).
SERVER_MARK = "create_server_app"


def idle_seconds() -> float:
    """The idle timeout from the environment; 0 means one server per call."""
    from tunelab.errors import ParameterError

    raw = os.environ.get(IDLE_ENV, "").strip()
    if not raw:
        return DEFAULT_IDLE_SECONDS
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        raise ParameterError(
            f"{IDLE_ENV} must be a number of seconds >= 0 (0: a Prefect server per call), "
            f"not {raw!r}"
        )
    return value


def import_root() -> str:
    """The folder ``tunelab`` is imported from (the checkout, or site-packages), which a
    server subprocess needs on its path; also part of a shared server's identity."""
    import tunelab

    return os.path.dirname(os.path.dirname(os.path.abspath(tunelab.__file__)))


def state_dir(app_dir: str, env: dict[str, str]) -> Path:
    """One folder per Prefect home, database, Python and tunelab copy: a server started for
    another database or another installation is never reused by mistake."""
    home = os.path.expanduser(env.get("PREFECT_HOME") or "~/.prefect")
    identity = [os.path.realpath(sys.executable), os.path.realpath(app_dir)]
    identity.append(env.get("PYTHONPATH", ""))
    identity += [env.get(name, "") for name in sorted(env) if "DATABASE" in name]
    key = hashlib.sha256("\0".join(identity).encode()).hexdigest()[:12]
    return Path(home) / "tunelab-server" / key


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / "lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _is_server(pid: int) -> bool:
    """A live tunelab server (not a process that got the same id after it ended)."""
    if not process_alive(pid):
        return False
    cmdline = Path(f"/proc/{pid}/cmdline")
    if not cmdline.exists():  # no /proc (macOS): trust the recorded id
        return True
    try:
        return SERVER_MARK in cmdline.read_bytes().decode(errors="replace")
    except OSError:
        return False


@dataclass
class ServerProcess:
    """A server process this call started or found: what :func:`wait_until_healthy` polls."""

    pid: int
    log: Path
    popen: subprocess.Popen[bytes] | None = None
    returncode: int | None = None

    def poll(self) -> int | None:
        if self.popen is not None:
            self.returncode = self.popen.poll()
        elif not _is_server(self.pid):
            self.returncode = -1
        return self.returncode

    @property
    def stderr(self) -> IO[bytes] | None:
        """Its log, for the error message of a server that died while starting."""
        return open(self.log, "rb") if self.log.exists() else None


@dataclass
class SharedServer:
    url: str
    process: ServerProcess
    directory: Path


def _read_state(directory: Path) -> dict[str, Any] | None:
    try:
        state = json.loads((directory / "server.json").read_text())
        return state if isinstance(state, dict) and _is_server(int(state["pid"])) else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _spawn(
    directory: Path, command: Callable[[int], list[str]], port: int, env: dict[str, str]
) -> SharedServer:
    log = directory / "server.log"
    with open(log, "wb") as output:
        popen = subprocess.Popen(
            command(port),
            env={**env, STATE_DIR_ENV: str(directory), IDLE_ENV: str(idle_seconds())},
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=output,
            start_new_session=True,  # not ended by the caller's Ctrl-C or its exit
        )
    url = f"http://127.0.0.1:{port}/api"
    state = {"pid": popen.pid, "url": url, "started": time.time()}
    (directory / "server.json").write_text(json.dumps(state))
    return SharedServer(url, ServerProcess(popen.pid, log, popen), directory)


def acquire(
    app_dir: str, command: Callable[[int], list[str]], port: int, env: dict[str, str]
) -> tuple[SharedServer, bool]:
    """The shared server (started now when none is running, on ``port``), leased to this
    process until :func:`release`; and whether this call started it."""
    directory = state_dir(app_dir, env)
    with _locked(directory):
        state = _read_state(directory)
        if state is None:
            server, started = _spawn(directory, command, port, env), True
        else:
            process = ServerProcess(int(state["pid"]), directory / "server.log")
            server, started = SharedServer(str(state["url"]), process, directory), False
        leases = directory / "clients"
        leases.mkdir(exist_ok=True)
        (leases / str(os.getpid())).touch()
    return server, started


def release(server: SharedServer) -> None:
    """This process no longer uses the server (its idle clock may start)."""
    with contextlib.suppress(OSError):
        (server.directory / "clients" / str(os.getpid())).unlink()


def _live_leases(directory: Path) -> list[int]:
    """Process ids of the calls using the server; leases of dead processes are removed."""
    live = []
    for lease in (directory / "clients").glob("*"):
        if lease.name.isdigit() and process_alive(int(lease.name)):
            live.append(int(lease.name))
        else:
            with contextlib.suppress(OSError):
                lease.unlink()
    return live


def stop_shared_server(app_dir: str | None = None, env: dict[str, str] | None = None) -> bool:
    """Ends the shared server of this environment now (tests, benchmarks); True if one ran."""
    env = dict(os.environ) if env is None else env
    app_dir = app_dir or import_root()
    directory = state_dir(app_dir, env)
    if not directory.exists():
        return False
    with _locked(directory):
        state = _read_state(directory)
        with contextlib.suppress(OSError):
            (directory / "server.json").unlink()
    if state is None:
        return False
    pid = int(state["pid"])
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 20
    while _is_server(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    return True


class IdleWatch:
    """ASGI wrapper around the server's app: notes each request's time, and ends the server
    (SIGTERM to itself: uvicorn's own graceful shutdown) once it has been idle long enough
    with no live lease. Runs inside the server process."""

    def __init__(self, app: Any, directory: Path, idle: float):
        self.app = app
        self.directory = directory
        self.idle = idle
        self.last_request = time.monotonic()
        threading.Thread(target=self._watch, name="tunelab-idle-watch", daemon=True).start()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket"):
            self.last_request = time.monotonic()
        await self.app(scope, receive, send)

    def _watch(self) -> None:
        while True:
            time.sleep(min(5.0, max(0.2, self.idle / 4)))
            if time.monotonic() - self.last_request < self.idle:
                continue
            with _locked(self.directory):
                if _live_leases(self.directory):
                    continue
                state = _read_state(self.directory)
                if state is not None and int(state["pid"]) == os.getpid():
                    (self.directory / "server.json").unlink()
            os.kill(os.getpid(), signal.SIGTERM)
            return


def watch_when_idle(app: Any) -> Any:
    """``app`` wrapped in :class:`IdleWatch` when this process is a shared server."""
    directory = os.environ.get(STATE_DIR_ENV)
    if not directory:
        return app
    return IdleWatch(app, Path(directory), float(os.environ.get(IDLE_ENV) or DEFAULT_IDLE_SECONDS))

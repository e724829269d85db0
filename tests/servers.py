"""Real throw-away servers for tests: PostgreSQL, an S3-compatible store, HTTP and MLflow.

Each is started on a free loopback port in a temp dir, waited for, and stopped afterwards;
a test that cannot start one is skipped with the reason (missing binaries, not root...).
"""

from __future__ import annotations

import contextlib
import functools
import glob
import http.server
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(check: Callable[[], bool], timeout: float, what: str, proc=None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited early with code {proc.returncode}")
        with contextlib.suppress(Exception):
            if check():
                return
        time.sleep(0.2)
    raise TimeoutError(f"{what} not ready after {timeout:.0f}s")


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --- PostgreSQL ------------------------------------------------------------------------------
@contextlib.contextmanager
def postgres_server(tmp: Path) -> Iterator[str]:
    """``initdb`` + ``pg_ctl`` from Debian's packages; yields ``postgresql://postgres@...``."""
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if not bins:
        pytest.skip("PostgreSQL binaries not found (apt-get install postgresql)")
    bindir = Path(bins[-1]).parent
    prefix: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        if shutil.which("runuser") is None:
            pytest.skip("running as root without runuser: cannot start PostgreSQL")
        try:
            import pwd

            pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("no 'postgres' system user to run PostgreSQL as")
        prefix = ["runuser", "-u", "postgres", "--"]
    # pytest's temp dirs are private to root; the server runs as postgres, so it gets its own
    root = Path(tempfile.mkdtemp(prefix="tunelab-pg-")) if prefix else tmp / "pg"
    root.mkdir(exist_ok=True)
    if prefix:
        shutil.chown(root, "postgres", "postgres")
    data, port = root / "data", free_port()
    env = {**os.environ, "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}
    done = subprocess.run(
        [
            *prefix,
            str(bindir / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    if done.returncode:
        pytest.skip(f"initdb failed: {done.stderr.strip()[-300:]}")
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
    start = subprocess.run(
        [
            *prefix,
            str(bindir / "pg_ctl"),
            "-D",
            str(data),
            "-o",
            options,
            "-l",
            str(root / "log"),
            "-w",
            "-t",
            "30",
            "start",
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    if start.returncode:
        log = (root / "log").read_text() if (root / "log").exists() else start.stderr
        pytest.skip(f"PostgreSQL did not start: {log.strip()[-300:]}")
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
            capture_output=True,
        )
        if prefix:
            shutil.rmtree(root, ignore_errors=True)


# --- S3 (moto) -------------------------------------------------------------------------------
@contextlib.contextmanager
def s3_server() -> Iterator[str]:
    """moto's S3-compatible server in a thread; yields its endpoint URL."""
    server_module = pytest.importorskip("moto.server", reason="moto[server] is not installed")
    port = free_port()
    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        wait_for(lambda: port_open(port), 20, "moto server")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


# --- HTTP ------------------------------------------------------------------------------------
class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep test output clean
        pass


@contextlib.contextmanager
def http_server(directory: Path) -> Iterator[str]:
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


# --- MLflow ----------------------------------------------------------------------------------
@contextlib.contextmanager
def mlflow_server(tmp: Path) -> Iterator[str]:
    """``mlflow server`` with a SQLite backend and artifacts under ``tmp``; yields its URI."""
    pytest.importorskip("mlflow", reason="mlflow is not installed (pip install tunelab[mlflow])")
    port = free_port()
    log = (tmp / "mlflow.log").open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlflow",
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--backend-store-uri",
            f"sqlite:///{tmp / 'mlflow.db'}",
            "--artifacts-destination",
            str(tmp / "artifacts"),
            "--workers",
            "1",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=tmp,
    )
    uri = f"http://127.0.0.1:{port}"
    try:
        import urllib.request

        try:
            wait_for(
                lambda: urllib.request.urlopen(f"{uri}/health", timeout=2).status == 200,
                90,
                "mlflow server",
                proc,
            )
        except (RuntimeError, TimeoutError) as exc:
            log.flush()
            pytest.fail(f"{exc}: {(tmp / 'mlflow.log').read_text()[-1500:]}")
        yield uri
    finally:
        _stop(proc)
        log.close()

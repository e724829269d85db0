"""Serve tunelab's deployments from this process: scheduled training, batch prediction, registry.

``tunelab serve`` (or ``python -m deployments.serve``) is the one command a user needs: when no
``PREFECT_API_URL`` is set it starts a local Prefect server (SQLite, on loopback) first, so the
UI is at http://127.0.0.1:4200 and each deployment there has a typed "Run" form.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from prefect import serve
from prefect.deployments.runner import RunnerDeployment
from prefect.settings import PREFECT_API_URL, temporary_settings

from tunelab.example import EXAMPLE_TARGET, example_data_path
from tunelab.flows.prediction import predict_flow
from tunelab.flows.prefect_setup import announce_first_start, wait_until_healthy
from tunelab.flows.registry_view import promote_flow, registry_report_flow
from tunelab.flows.training import train_flow

DEFAULT_CRON = "0 3 * * *"


def build_deployments(cron: str | None = DEFAULT_CRON) -> list[RunnerDeployment]:
    """The training deployment defaults to the bundled example so "Run" works out of the box,
    and to ``champion="production"``: each scheduled run warm-starts from the production
    version, checks today's data for drift against it, and takes the alias only if better.

    One training run at a time (``concurrency_limit=1``): a frequent schedule of a long run
    must queue, not pile up runs that fight for the same cores.
    """
    deployments: list[Any] = [
        train_flow.to_deployment(
            name="train",
            cron=cron,
            parameters={
                "data": str(example_data_path()),
                "target": EXAMPLE_TARGET,
                "max_evals": 10,
                # A scheduled retrain replaces production only with a better version.
                "champion": "production",
            },
            concurrency_limit=1,
            description="Nested-CV TPE search; registers the winning pipeline and moves "
            "'production' to it only if it beats the current one on the same test rows.",
            tags=["tunelab", "training"],
        ),
        predict_flow.to_deployment(
            name="batch-predict",
            description="Scores a table with a registered model (name + version or alias).",
            tags=["tunelab", "prediction"],
        ),
        registry_report_flow.to_deployment(name="registry-report", tags=["tunelab"]),
        promote_flow.to_deployment(name="promote", tags=["tunelab"]),
    ]
    return deployments


@contextmanager
def local_prefect_server(host: str = "127.0.0.1", port: int = 4200) -> Iterator[str]:
    """A Prefect server child process with its default SQLite database; stopped on exit."""
    api_url = f"http://{host}:{port}/api"
    announce_first_start()
    process = subprocess.Popen(
        [sys.executable, "-m", "prefect", "server", "start", "--host", host, "--port", str(port)],
        env={
            **os.environ,
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            # The UI calls the API at this address; its default assumes port 4200.
            "PREFECT_UI_API_URL": api_url,
            "PREFECT_API_URL": api_url,
        },
    )
    try:
        wait_until_healthy(api_url, process)
        yield api_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def serve_deployments(cron: str | None = DEFAULT_CRON, port: int = 4200) -> None:
    deployments = build_deployments(cron)
    if os.environ.get("PREFECT_API_URL"):
        serve(*deployments)
        return
    with local_prefect_server(port=port) as api_url, temporary_settings({PREFECT_API_URL: api_url}):
        print(f"Prefect UI: {api_url.removesuffix('/api')}")
        serve(*deployments)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cron", default=DEFAULT_CRON)
    parser.add_argument("--no-schedule", action="store_true")
    parser.add_argument("--port", type=int, default=4200)
    args = parser.parse_args()
    serve_deployments(cron=None if args.no_schedule else args.cron, port=args.port)


if __name__ == "__main__":
    main()

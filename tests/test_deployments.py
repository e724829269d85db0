"""Served deployments on a real local Prefect server: triggered through the API and the UI.

The server and the runner are started exactly as a user starts them (``tunelab serve``), in
a child process with its own Prefect home, data dir and loopback port.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest

from tests.browser import BROWSER_ARGS, CHROMIUM
from tunelab.registry import ModelRegistry

TINY = {"max_evals": 2, "outer_folds": 2, "inner_folds": 2, "n_jobs": 1}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = check()
            if value:
                return value
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def request(method: str, url: str, **kwargs) -> httpx.Response:
    """Retries 503s like Prefect's own client: SQLite answers "busy" under concurrent writes."""
    for _ in range(20):
        response = httpx.request(method, url, timeout=10, **kwargs)
        if response.status_code not in (429, 503):
            break
        time.sleep(0.5)
    response.raise_for_status()
    return response


class Served:
    def __init__(self, url: str, api: str, home: Path):
        self.url, self.api, self.home = url, api, home

    def deployment(self, name: str) -> dict:
        return request("GET", f"{self.api}/deployments/name/{name}").json()

    def trigger(self, name: str, parameters: dict) -> str:
        """What the UI's Run button does: POST create_flow_run on the deployment."""
        deployment_id = self.deployment(name)["id"]
        url = f"{self.api}/deployments/{deployment_id}/create_flow_run"
        return request("POST", url, json={"parameters": parameters}).json()["id"]

    def wait_for_final_state(self, flow_run_id: str, timeout: float = 300) -> str:
        def final_state():
            state = request("GET", f"{self.api}/flow_runs/{flow_run_id}").json()["state"]
            return state["type"] if state["type"] in {"COMPLETED", "FAILED", "CRASHED"} else None

        return wait_until(final_state, timeout, f"flow run {flow_run_id}")

    def flow_run_named(self, model_name: str) -> dict | None:
        """The flow run whose `name` parameter is `model_name`, if one was created."""
        runs = request("POST", f"{self.api}/flow_runs/filter", json={"limit": 50}).json()
        return next((r for r in runs if r["parameters"].get("name") == model_name), None)

    @property
    def registry(self) -> ModelRegistry:
        return ModelRegistry(self.home / "data" / "registry")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    home = tmp_path_factory.mktemp("served")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    env.update(TUNELAB_HOME=str(home / "data"), PREFECT_HOME=str(home / "prefect"))
    log = (home / "serve.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "tunelab.cli", "serve", "--port", str(port)],
        env=env,
        cwd=home,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    served = Served(url, f"{url}/api", home)
    try:
        wait_until(lambda: served.deployment("tunelab-promote/promote"), 180, "deployments")
        yield served
    finally:
        # As a user stops it: one signal to `tunelab serve`, which stops its own server.
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        finally:
            with contextlib.suppress(ProcessLookupError):  # whatever is left of its group
                os.killpg(process.pid, signal.SIGKILL)
            log.close()


def test_training_deployment_is_scheduled_typed_and_one_at_a_time(served):
    train = served.deployment("tunelab-train/train")
    assert [s["schedule"]["cron"] for s in train["schedules"]] == ["0 3 * * *"]
    limit = (train.get("global_concurrency_limit") or {}).get("limit")
    assert limit == 1 or train.get("concurrency_limit") == 1
    form = train["parameter_openapi_schema"]["properties"]
    assert "roc_auc" in form["metric"]["enum"] and "" in form["metric"]["enum"]
    assert "lightgbm" in form["families"]["items"]["enum"]
    assert form["time_budget"]["description"].startswith("Wall-clock seconds")
    assert train["parameters"]["champion"] == "production"  # a retrain must beat production
    for name in ("tunelab-promote/promote", "tunelab-registry-report/registry-report"):
        fields = served.deployment(name)["parameter_openapi_schema"]["properties"]
        assert all(field.get("description") for field in fields.values()), name


def test_api_triggered_runs_train_predict_and_report(served, churn_csv, tmp_path):
    run = served.trigger(
        "tunelab-train/train",
        {"data": str(churn_csv), "target": "churned", "name": "api-model", **TINY},
    )
    assert served.wait_for_final_state(run) == "COMPLETED"
    assert served.registry.versions("api-model") == [1]
    assert served.registry.aliases("api-model") == {"production": 1}  # the first one takes it
    name = request("GET", f"{served.api}/flow_runs/{run}").json()["name"]
    assert name.startswith("api-model-20")  # model name and date, not a random phrase

    scored = tmp_path / "scored.csv"
    new_rows = tmp_path / "new.csv"
    rows = pd.read_csv(churn_csv).drop(columns=["churned"]).head(25)
    rows.to_csv(new_rows, index=False)
    run = served.trigger(
        "tunelab-predict/batch-predict",
        {"model_name": "api-model", "data": str(new_rows), "output": str(scored)},
    )
    assert served.wait_for_final_state(run) == "COMPLETED"
    output = pd.read_csv(scored)
    assert len(output) == 25
    assert output["customer_id"].tolist() == rows["customer_id"].tolist()  # rows can be joined

    run = served.trigger("tunelab-registry-report/registry-report", {})
    assert served.wait_for_final_state(run) == "COMPLETED"
    artifacts = request("POST", f"{served.api}/artifacts/latest/filter", json={}).json()
    report = next(a for a in artifacts if a["key"] == "tunelab-registry")
    assert "api-model" in str(report["data"])


def test_ui_custom_run_with_a_parameter_completes(served):
    playwright = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (apt-get install chromium)")

    def field(page, label: str):
        label_text = page.locator(".schema-form-property__label", has_text=re.compile(f"^{label}"))
        prop = page.locator(".schema-form-property").filter(has=label_text)
        return prop.locator("textarea, input").first

    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{served.url}/deployments")
        page.get_by_role("link", name="train", exact=True).click()
        page.get_by_role("button", name="Run", exact=True).click()
        page.get_by_text("Custom run").click()
        field(page, "name").fill("ui-model")
        for parameter, value in TINY.items():
            field(page, parameter).fill(str(value))
        page.get_by_role("button", name="Submit").click()
        run = wait_until(lambda: served.flow_run_named("ui-model"), 60, "the UI-created run")
        assert run["parameters"]["max_evals"] == TINY["max_evals"]
        assert served.wait_for_final_state(run["id"]) == "COMPLETED"
        page.goto(f"{served.url}/runs/flow-run/{run['id']}")
        page.get_by_text("Completed").first.wait_for(timeout=30_000)
        page.screenshot(path=str(served.home / "ui-run.png"))
        # The run's plots, as a person sees them in its Artifacts tab.
        artifacts = request(
            "POST",
            f"{served.api}/artifacts/filter",
            json={"artifacts": {"key": {"any_": ["ui-model-plots"]}}},
        ).json()
        page.goto(f"{served.url}/artifacts/artifact/{artifacts[0]['id']}")
        page.locator("img").first.wait_for(timeout=30_000)
        drawn = page.evaluate(
            "Array.from(document.images).filter(i => i.naturalWidth > 100).length"
        )
        assert drawn >= 5
        page.screenshot(path=str(served.home / "ui-plots.png"), full_page=True)
        browser.close()
    entry = served.registry.metadata("ui-model")
    assert entry.version == 1
    assert entry.metadata["parameters"]["max_evals"] == TINY["max_evals"]


def test_prefect_yaml_deploys_to_a_work_pool_and_a_worker_runs_it(prefect_server, tmp_path):
    """The work-pool route: `prefect deploy` from prefect.yaml, then a process worker."""
    repo = Path(__file__).resolve().parents[1]
    # prefect.yaml's pull step uses {{ $PWD }}: the folder `prefect deploy` runs from.
    env = {
        **os.environ,
        "PREFECT_API_URL": prefect_server,
        "TUNELAB_HOME": str(tmp_path),
        "PWD": str(repo),
    }

    def prefect(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "prefect", *args],
            cwd=repo,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    created = prefect("work-pool", "create", "tunelab-process", "--type", "process")
    assert created.returncode == 0, created.stdout + created.stderr
    deployed = prefect(
        "--no-prompt", "deploy", "--all", "--prefect-file", "deployments/prefect.yaml"
    )
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    server = Served(prefect_server.removesuffix("/api"), prefect_server, tmp_path)
    train = server.deployment("tunelab-train/train")
    assert train["entrypoint"] == "flows/training.py:train_flow"
    assert train["work_pool_name"] == "tunelab-process"
    assert [s["schedule"]["cron"] for s in train["schedules"]] == ["0 3 * * *"]
    assert train["parameters"]["champion"] == "production"

    worker = subprocess.Popen(
        [sys.executable, "-m", "prefect", "worker", "start", "--pool", "tunelab-process"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        run = server.trigger("tunelab-train/train", {"name": "from-yaml", **TINY})
        assert server.wait_for_final_state(run) == "COMPLETED"
    finally:
        stop_worker(worker)
    assert ModelRegistry(tmp_path / "registry").versions("from-yaml") == [1]


def stop_worker(worker: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL: a worker's graceful shutdown took over 30 s once in a full
    suite run on 2 cores; the test is about the run it picked up, not how fast it stops."""
    os.killpg(worker.pid, signal.SIGTERM)
    try:
        worker.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=30)

"""The ``tunelab-train`` flow: the engine's procedure with each stage a Prefect task.

Its parameters are :class:`~tunelab.config.RunConfig`'s fields, laid out flat (signature and
``Args:`` text generated from the model), so the Prefect UI shows one typed, described form
field per setting and the definitions still live in one place.
"""

from __future__ import annotations

import contextlib
import inspect
import sys
import time
import typing
from typing import Any

from prefect import flow

from tunelab.budget import clock_scope
from tunelab.config import RunConfig
from tunelab.flows.prefect_setup import TRAIN_FLOW_NAME
from tunelab.models.catalog import FAMILY_MODULES

if typing.TYPE_CHECKING:
    from tunelab.outcome import TrainingResult


def _run_name() -> str:
    """Readable flow-run names in the UI: the model name and the date, not a random phrase."""
    from datetime import datetime, timezone

    from prefect.runtime import flow_run

    from tunelab.runs import default_model_name

    values = flow_run.parameters
    data, target = values.get("data") or "", values.get("target") or ""
    name = values.get("name") or default_model_name(data, target)
    return f"{name}-{datetime.now(timezone.utc):%Y%m%d-%H%M%S}"


def _train_flow_body(**settings: Any) -> dict[str, Any]:
    # The engine is imported here, not with this module: the CLI imports it while Prefect's
    # server starts (see run_train_flow), and the server start needs only this module.
    from tunelab.engine import train
    from tunelab.flows.prefect_runner import PrefectRunner
    from tunelab.runs import resolve_n_jobs

    config = RunConfig.create(**settings)
    with clock_scope(), PrefectRunner(config.dask_address, resolve_n_jobs(config.n_jobs)) as runner:
        return train(config, runner).result.to_dict()


def _form_field(annotation: Any, default: Any) -> tuple[Any, Any]:
    """Optional text, choices and lists become plain fields where empty means "not set".

    The Prefect UI draws ``str | None`` as a type toggle stuck on "None"; an empty text box
    or an empty choice reads better, and :class:`RunConfig` treats "" and [] as unset.
    """
    if default is not None:
        return annotation, default
    kinds = [a for a in typing.get_args(annotation) if a is not type(None)]
    if len(kinds) != 1:
        return annotation, default
    kind = kinds[0]
    if kind is str:
        return str, ""
    if typing.get_origin(kind) is typing.Literal:
        return typing.Literal[("", *typing.get_args(kind))], ""
    if typing.get_origin(kind) is list:
        return kind, []
    return annotation, default


def _signature_and_doc() -> tuple[inspect.Signature, str]:
    parameters, lines = [], []
    for name, field in RunConfig.model_fields.items():
        if field.is_required():
            annotation, default = field.annotation, inspect.Parameter.empty
        else:
            annotation, default = _form_field(field.annotation, field.default)
        parameters.append(
            inspect.Parameter(
                name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation
            )
        )
        lines.append(f"    {name}: {field.description}")
    doc = "Finds the best pipeline for a target column and registers it.\n\nArgs:\n"
    return inspect.Signature(parameters, return_annotation=dict), doc + "\n".join(lines)


_train_flow_body.__signature__, _train_flow_body.__doc__ = _signature_and_doc()  # type: ignore[attr-defined]
# Deployments record the function's name as their entrypoint; it must be this module's flow.
_train_flow_body.__name__ = _train_flow_body.__qualname__ = "train_flow"
train_flow = flow(name=TRAIN_FLOW_NAME, flow_run_name=_run_name, log_prints=True)(_train_flow_body)

#: What the first trials need, imported while Prefect's embedded server still starts (in
#: this order; the rest of the list, if the server answers first, while the flow run is
#: created): the engine and the search, every model family (the portfolio of starting
#: points names them all), and Prefect's flow engine.
SEARCH_IMPORTS = (
    "tunelab.engine",
    "tunelab.flows.prefect_runner",
    "tunelab.pipelines",
    "tunelab.nested_cv",
    "tunelab.space",
    *dict.fromkeys(target.split(":")[0] for target in FAMILY_MODULES.values()),
    "prefect.flow_engine",
)
#: What only the end of the run needs (registration, tracking), imported in the background
#: from the start of the flow run, when this process mostly waits for the server.
LATE_IMPORTS = ("tunelab.store", "tunelab.registry", "tunelab.tracking")


def train_without_server(config: RunConfig) -> TrainingResult:
    """The run in this process, as ``--no-prefect`` runs it, when Prefect's local server is
    still creating its database and waiting for it would spend the run's budget."""
    from tunelab.engine import train
    from tunelab.flows.prefect_setup import resume_collection

    resume_collection()
    print(
        "warning: Prefect's local server is still creating its database (its first start); "
        f"this run goes on without Prefect to keep its {config.time_budget:g} s budget, so it "
        "is not in the Prefect UI. The server stays up for the next run.",
        file=sys.stderr,
    )
    return train(config).result


def run_train_flow(config: RunConfig) -> TrainingResult:
    """Entry point the CLI and API use (through the ``tunelab.orchestrators`` entry points).

    Against the embedded server tunelab started, the flow run sends no heartbeats: they let
    a server notice a crashed run, but nobody watches for those on that server, and stopping
    the heartbeat thread holds up the end of every run by up to a second. The call's lease
    on a shared server ends with the flow run.
    """
    from prefect.settings import temporary_settings

    from tunelab.call_context import CALL_STARTED
    from tunelab.flows.prefect_setup import (
        current_server_url,
        owns_server,
        prepare_cli_session,
        ready_in_time,
        release_server,
    )

    report = ("tunelab.report",) if config.report else ()
    try:
        if not ready_in_time(config.time_budget, CALL_STARTED.get() or time.time()):
            return train_without_server(config)
        prepare_cli_session(SEARCH_IMPORTS, later=LATE_IMPORTS + report)
        given = {key: value for key, value in config.model_dump().items() if value is not None}
        # The address too: a Prefect imported by an earlier call of this process keeps the
        # address it read then, and a shared server that ended while idle has a new one.
        ours = {"flows.heartbeat_frequency": None, "api.url": current_server_url()}
        quiet = temporary_settings(updates=ours) if owns_server() else contextlib.nullcontext()
        with quiet:
            result = train_flow(**given)
    finally:
        release_server()
    from tunelab.outcome import TrainingResult

    return TrainingResult(**result)

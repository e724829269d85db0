"""The ``tunelab-train`` flow: the engine's procedure with each stage a Prefect task.

Its parameters are :class:`~tunelab.config.RunConfig`'s fields, laid out flat (signature and
``Args:`` text generated from the model), so the Prefect UI shows one typed, described form
field per setting and the definitions still live in one place.
"""

from __future__ import annotations

import inspect
import typing
from typing import Any

from prefect import flow

from flows.prefect_runner import PrefectRunner
from tunelab.config import RunConfig
from tunelab.engine import TrainingResult, train


def _run_name() -> str:
    """Readable flow-run names in the UI: the model name and the date, not a random phrase."""
    from datetime import datetime, timezone

    from prefect.runtime import flow_run

    from tunelab.runs import default_model_name

    values = flow_run.parameters
    data, target = values.get("data") or "", values.get("target") or ""
    name = values.get("name") or default_model_name(data, target)
    return f"{name}-{datetime.now(timezone.utc):%Y%m%d-%H%M%S}"


def _train(**settings: Any) -> dict[str, Any]:
    config = RunConfig.create(**settings)
    return train(config, PrefectRunner(config.dask_address)).result.to_dict()


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


_train.__signature__, _train.__doc__ = _signature_and_doc()  # type: ignore[attr-defined]
# Deployments record the function's name as their entrypoint; it must be this module's flow.
_train.__name__ = _train.__qualname__ = "train_flow"
train_flow = flow(name="tunelab-train", flow_run_name=_run_name, log_prints=True)(_train)


def run_train_flow(config: RunConfig) -> TrainingResult:
    """Entry point the CLI and API use (through the ``tunelab.orchestrators`` entry points)."""
    from flows.prefect_setup import prepare_cli_session

    prepare_cli_session()
    given = {key: value for key, value in config.model_dump().items() if value is not None}
    return TrainingResult(**train_flow(**given))

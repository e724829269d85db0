"""Optional MLflow tracking: one MLflow run per tunelab run, the winner as a registered model.

Why optional and lazy: the file registry is tunelab's source of truth and works without any
service; MLflow is a mirror for teams that already browse experiments there. ``mlflow`` takes
seconds to import, so it is imported inside the functions and never when tracking is off.

What one run logs: the run's parameters (flattened ``parameters``, ``task``, ``metric``...),
the nested-CV, final-search and held-out test metrics (outer-fold scores as steps), every
trial as one table artifact (``trials.json``, cheaper than a child run per trial), the HTML
report (``report.html``, which the MLflow UI renders), and the fitted pipeline as a skops
MLflow model registered under the tunelab model name, its version tagged
``tunelab_version=<N>`` so aliases can follow tunelab's promotions (:func:`set_alias`).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator, Sequence
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pandas as pd

from tunelab.errors import RegistryError, TrackingError, TunelabError
from tunelab.provenance import MODEL_RUNTIME_PACKAGES

#: Model-version tag that links an MLflow model version to the tunelab registry version.
VERSION_TAG = "tunelab_version"
#: Where the artifacts go inside the MLflow run.
TRIALS_ARTIFACT = "trials.json"
REPORT_ARTIFACT = "report.html"
CARD_ARTIFACT = "model_card.json"
#: Pinned in the MLflow model's requirements (inferring them would reload the model in a
#: subprocess for several seconds). Loading also needs tunelab itself, for ``pipelines``.
REQUIREMENTS = MODEL_RUNTIME_PACKAGES


def tracking_uri_from(option: str | None) -> str | None:
    """The explicit option (``--mlflow URI``) wins, then ``MLFLOW_TRACKING_URI``; else off."""
    uri = option if option else os.environ.get("MLFLOW_TRACKING_URI", "")
    return uri.strip() or None


def experiment_name(name: str) -> str:
    return f"tunelab/{name}"


#: MLflow retries an unreachable server for about four minutes by default; a promote or the
#: end of a run should say so in seconds. Each is used only when the user has not set it.
_HTTP_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
}


def masked_message(exc: BaseException, tracking_uri: str) -> str:
    """The first line of ``exc`` with the URI's password (and secret query values) masked."""
    from tunelab.sources import mask_url

    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    text = text.replace(tracking_uri, mask_url(tracking_uri))
    secrets = [urlsplit(tracking_uri).password or ""] + [
        v for k, v in parse_qsl(urlsplit(tracking_uri).query) if v
    ]
    for secret in filter(None, secrets):
        text = text.replace(secret, "***")
    return text[:500]


@contextlib.contextmanager
def _bounded_http_retries() -> Iterator[None]:
    added = [k for k in _HTTP_DEFAULTS if k not in os.environ]
    os.environ.update({k: _HTTP_DEFAULTS[k] for k in added})
    try:
        yield
    finally:
        for key in added:
            os.environ.pop(key, None)


@contextlib.contextmanager
def _tracking(tracking_uri: str) -> Iterator[Any]:
    """Points mlflow's fluent API at ``tracking_uri`` for the block, then restores it.

    Any failure inside leaves as one :class:`TrackingError` whose text names the server with
    its credentials masked (MLflow's own messages repeat the URI, password included).
    """
    from tunelab.sources import mask_url

    try:
        import mlflow
    except ImportError:
        raise TrackingError("MLflow is not installed: pip install 'tunelab[mlflow]'") from None
    previous = mlflow.get_tracking_uri() if mlflow.is_tracking_uri_set() else None
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    try:
        with _bounded_http_retries():
            yield mlflow
    except TunelabError:
        raise
    except Exception as exc:
        raise TrackingError(
            f"MLflow at {mask_url(tracking_uri)} failed: {type(exc).__name__}: "
            f"{masked_message(exc, tracking_uri)}"
        ) from None
    finally:
        mlflow.set_tracking_uri(previous or "")
        mlflow.set_registry_uri(previous or "")


def _flatten(prefix: str, value: Any, out: dict[str, str]) -> dict[str, str]:
    if isinstance(value, dict):
        for key, item in value.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), item, out)
    else:
        text = json.dumps(value, default=str) if isinstance(value, (list, tuple)) else str(value)
        out[prefix] = text[:6000]  # MLflow's limit for a parameter value
    return out


def run_params(card: dict[str, Any]) -> dict[str, str]:
    params: dict[str, str] = {}
    for key in ("task", "target", "metric", "seed", "run_id"):
        if key in card:
            params[key] = str(card[key])
    _flatten("", card.get("parameters") or {}, params)
    _flatten("data", card.get("data") or {}, params)
    best = card.get("best") or {}
    _flatten("best", best.get("config") or {}, params)
    return params


def run_metrics(card: dict[str, Any]) -> dict[str, float]:
    metrics = card.get("metrics") or {}
    out: dict[str, float] = {}
    for key, value in (metrics.get("outer_cv") or {}).items():
        if isinstance(value, (int, float)):
            out[f"outer_cv_{key}"] = float(value)
    for key in ("final_inner_cv", "test_score"):
        if isinstance(metrics.get(key), (int, float)):
            out[key] = float(metrics[key])
    return out


def trials_table(trials: Sequence[Any]) -> pd.DataFrame:
    rows = []
    for t in trials:
        rows.append(
            {
                "search": t.search,
                "number": t.number,
                "family": t.family,
                "status": str(getattr(t.status, "value", t.status)),
                "score": t.score,
                "score_std": t.score_std,
                "fit_seconds": t.fit_seconds,
                "config": json.dumps(t.config, default=str),
                "error": getattr(t, "error", ""),
                "started_at": getattr(t, "started_at", ""),
                "finished_at": getattr(t, "finished_at", ""),
            }
        )
    return pd.DataFrame(rows)


def _trusted_types(model: Any) -> list[str]:
    import skops.io as sio

    from tunelab.model_types import check_model_types

    # The registry's exact allow-list, not prefixes: a prefix such as "sklearn." would also
    # trust standard-library functions that scikit-learn re-exports (see model_types).
    untrusted = sio.get_untrusted_types(data=sio.dumps(model))
    return check_model_types(untrusted, "Refusing to log the model to MLflow")


def _requirements() -> list[str]:
    pins = []
    for package in REQUIREMENTS:
        with contextlib.suppress(PackageNotFoundError):
            pins.append(f"{package}=={package_version(package)}")
    return pins


def log_run(
    tracking_uri: str,
    *,
    name: str,
    version: int,
    card: dict[str, Any],
    trials: Sequence[Any],
    model: Any,
    report_html: str | None = None,
) -> str:
    """Logs one finished, registered tunelab run to MLflow; returns the MLflow run id."""
    with _tracking(tracking_uri) as mlflow:
        mlflow.set_experiment(experiment_name(name))
        tags = {"tunelab.name": name, "tunelab.version": str(version)}
        if card.get("run_id"):
            tags["tunelab.run_id"] = str(card["run_id"])
        with mlflow.start_run(run_name=f"{name} v{version}", tags=tags) as run:
            mlflow.log_params(run_params(card))
            mlflow.log_metrics(run_metrics(card))
            folds = (card.get("metrics") or {}).get("outer_folds") or []
            for fold in folds:
                if isinstance(fold.get("score"), (int, float)):
                    mlflow.log_metric("outer_fold_score", float(fold["score"]), step=fold["fold"])
            mlflow.log_dict(card, CARD_ARTIFACT)
            if trials:
                mlflow.log_table(trials_table(trials), artifact_file=TRIALS_ARTIFACT)
            if report_html is not None:
                mlflow.log_text(report_html, REPORT_ARTIFACT)
            info = mlflow.sklearn.log_model(
                model,
                name="model",
                serialization_format="skops",
                skops_trusted_types=_trusted_types(model),
                registered_model_name=name,
                pip_requirements=_requirements(),
            )
            registered = info.registered_model_version
            client = mlflow.MlflowClient()
            client.set_model_version_tag(name, str(registered), VERSION_TAG, str(version))
            if card.get("run_id"):
                client.set_model_version_tag(
                    name, str(registered), "tunelab_run_id", str(card["run_id"])
                )
            return run.info.run_id


def find_model_version(tracking_uri: str, name: str, tunelab_version: int) -> str:
    """The MLflow model version number that carries ``tunelab_version``."""
    with _tracking(tracking_uri) as mlflow:
        client = mlflow.MlflowClient()
        found = client.search_model_versions(
            f"name = '{name}' and tag.{VERSION_TAG} = '{int(tunelab_version)}'"
        )
    if not found:
        from tunelab.sources import mask_url

        raise RegistryError(
            f"No MLflow model version of {name!r} carries tunelab version {tunelab_version} "
            f"at {mask_url(tracking_uri)}"
        )
    return str(max(int(v.version) for v in found))


def set_alias(tracking_uri: str, name: str, alias: str, tunelab_version: int) -> str:
    """Points MLflow alias ``alias`` of model ``name`` at the version logged for
    ``tunelab_version`` (call it whenever tunelab promotes); returns the MLflow version."""
    mlflow_version = find_model_version(tracking_uri, name, tunelab_version)
    with _tracking(tracking_uri) as mlflow:
        mlflow.MlflowClient().set_registered_model_alias(name, alias, mlflow_version)
    return mlflow_version

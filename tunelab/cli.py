"""``tunelab`` command line: run, example, predict, models, serve."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from importlib import resources
from pathlib import Path
from typing import Any

# Prefect's telemetry heartbeat races the embedded SQLite server at start-up and prints a
# "database is locked" traceback; it sends nothing useful from here anyway.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

from tunelab.errors import TunelabError  # noqa: E402
from tunelab.paths import data_dir as resolve_data_dir  # noqa: E402


def example_data_path() -> Path:
    return Path(str(resources.files("tunelab") / "example_data" / "churn.csv"))


def _add_search_options(parser: argparse.ArgumentParser, max_evals: int) -> None:
    parser.add_argument("--name", default="", help="registry name (default: <file>-<target>)")
    parser.add_argument(
        "--task", default="auto", choices=["auto", "binary", "multiclass", "regression"]
    )
    parser.add_argument("--metric", default="", help="scikit-learn scorer name")
    parser.add_argument("--max-evals", type=int, default=max_evals, help="TPE trials per search")
    parser.add_argument("--time-budget", type=float, default=None, help="seconds for the run")
    parser.add_argument("--outer-folds", type=int, default=3)
    parser.add_argument("--inner-folds", type=int, default=3)
    parser.add_argument("--test-size", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--families", default="", help="comma-separated, e.g. lightgbm,linear")
    parser.add_argument("--n-jobs", type=int, default=-1, help="CPU cores (-1 = all)")
    parser.add_argument("--trial-timeout", type=float, default=None, help="seconds per trial")
    parser.add_argument("--data-dir", default="", help="registry and checkpoints folder")
    parser.add_argument("--run-id", default="", help="resume this run")
    parser.add_argument(
        "--dask",
        default="",
        metavar="ADDRESS",
        help="run outer folds on Dask: 'local' (LocalCluster) or a scheduler address",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tunelab", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="search, evaluate and register the best pipeline")
    run.add_argument("--data", required=True, help="CSV or Parquet file")
    run.add_argument("--target", required=True, help="column to predict")
    _add_search_options(run, max_evals=30)

    example = commands.add_parser("example", help="run on the bundled churn example table")
    _add_search_options(example, max_evals=10)

    predict = commands.add_parser("predict", help="score a table with a registered model")
    predict.add_argument("--model", required=True, help="registered model name")
    predict.add_argument("--data", required=True)
    predict.add_argument("--version", default="latest", help="number, alias or 'latest'")
    predict.add_argument("--output", default="", help=".csv or .parquet file")
    predict.add_argument("--ignore-extra-columns", action="store_true")
    predict.add_argument("--data-dir", default="")

    models = commands.add_parser("models", help="inspect and promote registered models")
    model_commands = models.add_subparsers(dest="models_command", required=True)
    listing = model_commands.add_parser("list", help="every version with its metrics")
    listing.add_argument("--data-dir", default="")
    show = model_commands.add_parser("show", help="one version's metadata as JSON")
    show.add_argument("name")
    show.add_argument("--version", default="latest")
    show.add_argument("--data-dir", default="")
    promote = model_commands.add_parser("promote", help="point an alias at a version")
    promote.add_argument("name")
    promote.add_argument("version")
    promote.add_argument("--alias", default="production")
    promote.add_argument("--data-dir", default="")

    serve = commands.add_parser("serve", help="serve the Prefect deployments (scheduled + UI)")
    serve.add_argument("--cron", default="0 3 * * *", help="training schedule")
    serve.add_argument("--no-schedule", action="store_true")
    serve.add_argument("--port", type=int, default=4200, help="port of the local Prefect server")
    return parser


def _run_training(args: argparse.Namespace, data: str, target: str) -> dict[str, Any]:
    from tunelab.prepare import prepare_data

    # Check the input before Prefect starts, so bad data fails in a second with one line.
    prepare_data(
        data,
        target,
        task=args.task,
        metric=args.metric or None,
        outer_folds=args.outer_folds,
        inner_folds=args.inner_folds,
        test_size=args.test_size,
        max_evals=args.max_evals,
    )
    from flows.training import train_flow

    families = [f.strip() for f in args.families.split(",") if f.strip()] or None
    return train_flow(
        data=data,
        target=target,
        name=args.name,
        task=args.task,
        metric=args.metric,
        max_evals=args.max_evals,
        time_budget=args.time_budget,
        outer_folds=args.outer_folds,
        inner_folds=args.inner_folds,
        test_size=args.test_size,
        seed=args.seed,
        families=families,
        n_jobs=args.n_jobs,
        trial_timeout=args.trial_timeout,
        data_dir=args.data_dir,
        run_id=args.run_id,
        dask_address=args.dask,
    )


def _print_training_result(result: dict[str, Any]) -> None:
    outer = result["outer_cv"]
    print(
        f"\n{result['name']} v{result['version']} ({result['task']}, {result['metric']})\n"
        f"  nested CV: {outer['mean']:.4f} ± {outer['std']:.4f} "
        f"(folds: {', '.join(f'{s:.4f}' for s in outer['scores'])})\n"
        f"  held-out test: {result['test_score']:.4f}\n"
        f"  winner: {result['best_family']} {result['best_config']}\n"
        f"  registered at: {result['path']}\n"
        f"  run id: {result['run_id']}"
    )


def _registry(args: argparse.Namespace):
    from tunelab.registry import ModelRegistry

    return ModelRegistry(resolve_data_dir(args.data_dir or None) / "registry")


def dispatch(args: argparse.Namespace) -> int:
    if args.command == "run":
        _print_training_result(_run_training(args, args.data, args.target))
    elif args.command == "example":
        _print_training_result(_run_training(args, str(example_data_path()), "churned"))
    elif args.command == "predict":
        from flows.prediction import predict_flow

        result = predict_flow(
            model_name=args.model,
            data=args.data,
            version=args.version,
            output=args.output,
            extra_columns="ignore" if args.ignore_extra_columns else "error",
            data_dir=args.data_dir,
        )
        print(
            f"{result['rows']} predictions from {result['name']} v{result['version']} "
            f"written to {result['output']}"
        )
    elif args.command == "models":
        registry = _registry(args)
        if args.models_command == "list":
            summary = registry.summary()
            print(summary.to_string(index=False) if len(summary) else "No registered models.")
        elif args.models_command == "show":
            print(json.dumps(registry.metadata(args.name, args.version).metadata, indent=2))
        else:
            version = registry.set_alias(args.name, args.alias, args.version)
            print(f"{args.name}: {args.alias} -> v{version}")
    elif args.command == "serve":
        from deployments.serve import serve_deployments

        serve_deployments(cron=None if args.no_schedule else args.cron, port=args.port)
    return 0


class HideUserErrorTracebacks(logging.Filter):
    """Prefect logs failures with tracebacks; for bad input the message is the whole story."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], TunelabError):
            record.exc_info = None
            record.exc_text = None
        return True


def install_log_filter() -> None:
    """The terminal shows one line; the Prefect API (and so the UI) still gets the traceback."""
    from prefect.logging.configuration import setup_logging

    setup_logging()
    for handler in logging.getLogger().handlers:
        handler.addFilter(HideUserErrorTracebacks())


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    install_log_filter()
    try:
        return dispatch(args)
    except TunelabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "interrupted: finished trials are checkpointed; rerun with the same --run-id",
            file=sys.stderr,
        )
        return 130


if __name__ == "__main__":
    sys.exit(main())

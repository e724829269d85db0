"""``tunelab`` command line: run, example, predict, models, serve.

Only argparse and the run configuration are imported before the arguments are parsed, so
``--help`` and argument errors answer at once; pandas, scikit-learn and Prefect load only for
the command that needs them.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import math
import os
import sys
import time
import types
import typing
from typing import Any

from tunelab.config import RunConfig
from tunelab.errors import TunelabError


def process_started() -> float:
    """When this command started, so a time budget counts the interpreter start-up too.

    On Linux from ``/proc`` to the clock tick (psutil's ``create_time`` adds the boot time
    rounded to the second, so it can be off by up to a second); elsewhere from psutil, or
    failing that, when this module was imported (a close second).
    """
    try:
        with open("/proc/self/stat") as stat, open("/proc/uptime") as uptime:
            ticks = int(stat.read().rsplit(")", 1)[1].split()[19])
            up = float(uptime.read().split()[0])
        age = up - ticks / os.sysconf("SC_CLK_TCK")
        if age >= 0:
            return time.time() - age
    except (OSError, ValueError, IndexError, AttributeError):
        pass
    try:
        import psutil

        return min(float(psutil.Process().create_time()), _IMPORTED_AT)
    except Exception:  # psutil is optional
        return _IMPORTED_AT


_IMPORTED_AT = time.time()
#: What a run that exhausted memory outside the table read says (the read names its table).
OUT_OF_MEMORY = (
    "out of memory: the table or the models searched need more memory than this process may "
    "use; train on a smaller table (a sample of rows, fewer columns), limit --families or "
    "--n-jobs, or give it more memory"
)
#: Settings the ``run`` command takes as required positional-style options, not from the loop.
_OWN_OPTIONS = {"data", "target", "dask_address"}


def _base_type(annotation: Any) -> Any:
    """``int | None`` -> int; ``Literal[...] | None`` -> the Literal; ``list[X] | None`` -> list."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return _base_type(next(a for a in typing.get_args(annotation) if a is not type(None)))
    return annotation


def add_config_options(parser: argparse.ArgumentParser, defaults: dict[str, Any]) -> None:
    """One option per :class:`RunConfig` field, with its description and default."""
    for field, info in RunConfig.model_fields.items():
        if field in _OWN_OPTIONS:
            continue
        flag = "--" + field.replace("_", "-")
        kind = _base_type(info.annotation)
        default = defaults.get(field, info.default)
        text = f"{info.description} (default: {default})"
        options: dict[str, Any] = {"dest": field, "default": argparse.SUPPRESS, "help": text}
        if typing.get_origin(kind) is typing.Literal:
            options["choices"] = list(typing.get_args(kind))
        elif typing.get_origin(kind) is list:
            options["type"] = _comma_list
            options["metavar"] = "A,B"
            choices = typing.get_args(typing.get_args(kind)[0])
            options["help"] = f"{info.description} One or more of: {', '.join(choices)}."
        elif kind is bool:
            options["action"] = argparse.BooleanOptionalAction
        elif kind in (int, float):
            options["type"] = kind
        parser.add_argument(flag, **options)
    parser.add_argument(
        "--dask",
        dest="dask_address",
        default=argparse.SUPPRESS,
        metavar="ADDRESS",
        help=RunConfig.model_fields["dask_address"].description,
    )
    parser.add_argument(
        "--no-prefect",
        action="store_true",
        help="run in this process without Prefect (no server, no UI record)",
    )


def _comma_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def add_store_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store",
        default=None,
        metavar="URL",
        help="model store URL, e.g. s3://bucket/registry (default: $TUNELAB_STORE, else the "
        "data dir's registry)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tunelab", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="search, evaluate and register the best pipeline")
    run.add_argument("--data", required=True, help=RunConfig.model_fields["data"].description)
    run.add_argument("--target", required=True, help="column to predict")
    add_config_options(run, {})

    example = commands.add_parser("example", help="run on the bundled churn example table")
    add_config_options(example, {"max_evals": 10})

    predict = commands.add_parser("predict", help="score a table with a registered model")
    predict.add_argument("--model", required=True, help="registered model name")
    predict.add_argument("--data", required=True)
    predict.add_argument("--version", default="latest", help="number, alias or 'latest'")
    predict.add_argument("--output", default="", help=".csv or .parquet file")
    predict.add_argument("--ignore-extra-columns", action="store_true")
    predict.add_argument("--table", default=None, help="table, when --data is a database URL")
    predict.add_argument("--query", default=None, help="SQL query, when --data is a database URL")
    predict.add_argument(
        "--keep-columns",
        default=None,
        metavar="A,B",
        type=_comma_list,
        help="input columns to copy into the output (default: the identifier columns)",
    )
    predict.add_argument("--data-dir", default=None)
    add_store_option(predict)

    report = commands.add_parser("report", help="print (or open) a version's report.html")
    report.add_argument("name")
    report.add_argument("--version", default="latest")
    report.add_argument("--open", action="store_true", help="open it in the web browser")
    report.add_argument("--data-dir", default=None)
    add_store_option(report)

    models = commands.add_parser("models", help="inspect and promote registered models")
    model_commands = models.add_subparsers(dest="models_command", required=True)
    listing = model_commands.add_parser("list", help="every version with its metrics")
    listing.add_argument("--data-dir", default=None)
    add_store_option(listing)
    show = model_commands.add_parser("show", help="one version's metadata as JSON")
    show.add_argument("name")
    show.add_argument("--version", default="latest")
    show.add_argument("--data-dir", default=None)
    add_store_option(show)
    promote = model_commands.add_parser("promote", help="point an alias at a version")
    promote.add_argument("name")
    promote.add_argument("version")
    promote.add_argument("--alias", default="production")
    promote.add_argument("--data-dir", default=None)
    add_store_option(promote)
    promote.add_argument(
        "--mlflow",
        default=None,
        metavar="URI",
        help="also set the alias in this MLflow registry (default: $MLFLOW_TRACKING_URI)",
    )

    serve = commands.add_parser("serve", help="serve the Prefect deployments (scheduled + UI)")
    serve.add_argument("--cron", default="0 3 * * *", help="training schedule")
    serve.add_argument("--no-schedule", action="store_true")
    serve.add_argument("--port", type=int, default=4200, help="port of the local Prefect server")
    return parser


def config_from_args(args: argparse.Namespace) -> RunConfig:
    """Only the options given on the command line; every default comes from RunConfig."""
    from tunelab.runs import new_run_id

    values = {f: getattr(args, f) for f in RunConfig.model_fields if hasattr(args, f)}
    if args.command == "example":
        from tunelab.example import EXAMPLE_TARGET, example_data_path

        values |= {"data": str(example_data_path()), "target": EXAMPLE_TARGET}
        values.setdefault("max_evals", 10)
    # A run id known up front can be printed if the run is interrupted, so it can be resumed.
    values.setdefault("run_id", new_run_id())
    return RunConfig.create(**values)


def interval_line(outer: dict[str, Any]) -> str:
    """The card's interval for the estimate, as one summary line (empty for old results)."""
    if "interval_low" not in outer:
        return ""
    level = round(100 * outer.get("interval_level", 0.95))
    return (
        f"  {level}% interval: {outer['interval_low']:.4f} – {outer['interval_high']:.4f} "
        "(where a new held-out score should fall)\n"
    )


def print_training_result(result: Any) -> None:
    outer = result["outer_cv"]
    shipped = " (refitted on all rows)" if result["refit_full"] else ""
    print(
        f"\n{result['name']} v{result['version']} ({result['task']}, {result['metric']})\n"
        f"  nested CV: {outer['mean']:.4f} ± {outer['std']:.4f} "
        f"(folds: {', '.join(f'{s:.4f}' for s in outer['scores'])})\n"
        f"{interval_line(outer)}"
        f"  held-out test: {result['test_score']:.4f}\n"
        f"  winner: {result['best_family']}{shipped}\n"
        f"  best single pipeline: {result['best_config']}\n"
        f"  registered at: {result['location']}\n"
        f"  run id: {result['run_id']}\n"
        f"  wall time: {time.time() - process_started():.1f}s"
    )
    from tunelab.retraining_summary import decision_line

    line = decision_line(result["champion"], result["name"], result["version"])
    if line:
        print(line)


def _train_and_print(args: argparse.Namespace, config: RunConfig) -> int:
    from tunelab.api import run_training
    from tunelab.paths import ensure_data_dir

    ensure_data_dir(config.data_dir)  # a read-only or misplaced data dir fails before any work
    result = run_training(config, orchestrate=not args.no_prefect, started=process_started())
    print_training_result(result)
    return 0


def dispatch(args: argparse.Namespace) -> int:
    if args.command in ("run", "example"):
        config = config_from_args(args)
        collecting = gc.isenabled()
        if not args.no_prefect:
            from tunelab.orchestration import orchestrator

            orchestrator("warm-up")()  # also pauses the garbage collector while importing
        try:
            return _train_and_print(args, config)
        except KeyboardInterrupt:
            print(
                "interrupted: finished trials are checkpointed; resume with "
                f"--run-id {config.run_id}",
                file=sys.stderr,
            )
            return 130
        finally:
            if collecting and not gc.isenabled():  # a run that failed before the flow began
                gc.enable()
    if args.command == "predict":
        from tunelab.names import check_model_name
        from tunelab.orchestration import orchestrator

        check_model_name(args.model)
        result = orchestrator("predict")(
            model_name=args.model,
            data=args.data,
            version=args.version,
            output=args.output,
            extra_columns="ignore" if args.ignore_extra_columns else "error",
            data_dir=args.data_dir or "",
            table=args.table or "",
            query=args.query or "",
            keep_columns=args.keep_columns or [],
            store=args.store or "",
        )
        print(
            f"{result['rows']} predictions from {result['name']} v{result['version']} "
            f"written to {result['output']}"
        )
        return 0
    if args.command == "models":
        return models_command(args)
    if args.command == "report":
        return report_command(args)
    if args.command == "serve":
        from tunelab.orchestration import orchestrator

        orchestrator("serve")(cron=None if args.no_schedule else args.cron, port=args.port)
    return 0


def models_command(args: argparse.Namespace) -> int:
    from tunelab.names import check_model_name
    from tunelab.store import open_store

    store = open_store(args.data_dir, args.store)
    if args.models_command == "list":
        summary = store.summary()
        print(summary.to_string(index=False) if len(summary) else "No registered models.")
    elif args.models_command == "show":
        card = store.metadata(check_model_name(args.name), args.version).metadata
        print(json.dumps(finite(card), indent=2, allow_nan=False, default=str))
    else:
        from tunelab.promote import promote
        from tunelab.tracking import tracking_uri_from

        done = promote(store, args.name, args.version, args.alias, tracking_uri_from(args.mlflow))
        print(f"{done.name}: {done.alias} -> v{done.version}")
        if done.mlflow_version is not None:
            print(f"MLflow {done.name}: {done.alias} -> version {done.mlflow_version}")
    return 0


def finite(value: Any) -> Any:
    """``value`` with NaN and infinities as ``None``: JSON has no such numbers (the card is
    depth-checked when read, so this recursion is bounded)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [finite(item) for item in value]
    return value


def report_command(args: argparse.Namespace) -> int:
    """Prints where the version's report is (a path, or a URL for a URL store)."""
    from tunelab.names import check_model_name
    from tunelab.store import open_store

    location = open_store(args.data_dir, args.store).report_url(
        check_model_name(args.name), args.version
    )
    shown = location if "://" in location else os.path.abspath(location)
    print(shown)
    if args.open:
        import pathlib
        import webbrowser

        webbrowser.open(shown if "://" in shown else pathlib.Path(shown).as_uri())
    return 0


def main(argv: list[str] | None = None) -> int:
    """Runs one command; ``argv=None`` (the ``tunelab`` program itself) then ends the process
    at once (see :func:`end_process`), while a caller passing ``argv`` gets the exit code."""
    code = run_command(argv)
    if argv is None:
        end_process(code)
    return code


def run_command(argv: list[str] | None = None) -> int:
    from tunelab.interrupt import stop_on_signals

    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    try:
        with stop_on_signals():
            return dispatch(args)
    except TunelabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except MemoryError:
        print(f"error: {OUT_OF_MEMORY}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def end_process(code: int) -> typing.NoReturn:
    """Ends the process once its work is done: what a normal exit does, minus the teardown.

    Like the interpreter's own exit it waits for non-daemon threads and runs the exit
    handlers (Prefect's log and event workers drain there, the embedded server is stopped),
    then flushes the output. It skips freeing every object of pandas, scikit-learn, Prefect
    and the rest, which takes about a second on a loaded machine after the result is
    printed, inside the user's time budget, and which no one sees. The registry was written
    and the flow run marked finished before this point.
    """
    import atexit
    import threading

    for thread in threading.enumerate():
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join()
    try:
        atexit._run_exitfuncs()
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        os._exit(code)


if __name__ == "__main__":
    sys.exit(main())

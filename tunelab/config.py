"""The one definition of a training run's settings: defaults, descriptions and every check.

The CLI builds its options from these fields, the Python API and the Prefect flow take this
model (so the Prefect UI form is typed and described from the same text), and the resume
manifest and the registered metadata are dumped from it. Everything that can be checked
without reading the data is checked here, before any data is read or any server started.

Kept free of heavy imports (no pandas, scikit-learn or Prefect) so ``tunelab --help`` is fast.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from tunelab.errors import ParameterError
from tunelab.lineage import parse_reference
from tunelab.metrics import ALL_METRICS
from tunelab.models.catalog import FAMILY_NAMES
from tunelab.models.kinds import TaskOption
from tunelab.names import check_alias, check_model_name, check_run_id

Metric = Literal[ALL_METRICS]  # type: ignore[valid-type]
Family = Literal[FAMILY_NAMES]  # type: ignore[valid-type]

DEFAULT_MAX_EVALS = 30
#: "No limit" for trials per search: a time budget ends the search instead.
UNLIMITED_EVALS = 100_000

#: Fields whose change makes a checkpointed run's trials invalid for resuming.
RESUME_KEYS = (
    "target",
    "table",
    "query",
    "task",
    "metric",
    "seed",
    "test_size",
    "outer_folds",
    "inner_folds",
    "max_evals",
    "families",
    "estimate_share",
    "ensemble_size",
    "group_column",
    "time_column",
    "gap",
    "weight_column",
    "champion",
    "warm_start",
)

#: Population stability index above which a feature counts as drifted (0.1-0.2 is usually
#: read as a moderate shift, above 0.2 as a major one).
DEFAULT_DRIFT_THRESHOLD = 0.2


class RunConfig(BaseModel):
    """Settings of one training run. Empty strings count as "not set"."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    data: str = Field(
        description="CSV or Parquet file or URL (s3://, gs://, https://), or a SQLAlchemy "
        "database URL together with table or query.",
        min_length=1,
    )
    target: str = Field(description="Column to predict.", min_length=1)
    table: str | None = Field(None, description="Table to read when data is a database URL.")
    query: str | None = Field(None, description="SQL query to read when data is a database URL.")
    name: str | None = Field(
        None, description="Registry name; default: file name stem and target (churn-churned)."
    )
    task: TaskOption = Field("auto", description="auto, binary, multiclass or regression.")
    metric: Metric | None = Field(
        None, description="scikit-learn scorer; default roc_auc / neg_log_loss / r2 by task."
    )
    max_evals: int | None = Field(
        None,
        ge=1,
        description="Trials per search (each outer fold, and the final search); default 30, "
        "or as many as the time budget allows when one is given.",
    )
    time_budget: float | None = Field(
        None,
        gt=0,
        allow_inf_nan=False,
        description="Wall-clock seconds from the call to its return; the best model found by "
        "then is registered.",
    )
    outer_folds: int = Field(3, ge=2, le=20, description="Outer folds of nested CV (estimate).")
    inner_folds: int = Field(3, ge=2, le=20, description="Inner folds scoring each trial.")
    test_size: float = Field(
        0.2, gt=0, lt=1, description="Share of rows held out for the one final test score."
    )
    seed: int = Field(0, ge=0, description="Seed for splits, TPE and models (same seed, same run).")
    families: list[Family] | None = Field(
        None, description="Model families to search; default all that fit the task."
    )
    n_jobs: int = Field(-1, ge=-1, description="CPU cores to use (-1 = all).")
    group_column: str | None = Field(
        None,
        description="Column naming the entity of each row (customer, patient): no group is on "
        "both sides of the test split or of any fold. Not used as a feature.",
    )
    time_column: str | None = Field(
        None,
        description="Date or number ordering the rows: the test rows are the latest test_size "
        "share and every fold trains on earlier rows than it validates on.",
    )
    gap: int = Field(
        0, ge=0, description="With time_column: rows left out between each fold's training and "
        "validation part (e.g. a forecast horizon).",
    )  # fmt: skip
    weight_column: str | None = Field(
        None,
        description="Column of non-negative row weights used in every fit and every score "
        "(the metric is then weighted). Not used as a feature.",
    )

    trial_timeout: float | None = Field(
        None,
        gt=0,
        allow_inf_nan=False,
        description="Seconds after which a trial is cut between its folds.",
    )
    estimate_share: float = Field(
        0.4,
        ge=0.05,
        le=0.95,
        description="Under a time budget, share of the search time spent on the outer folds "
        "(the estimate); the rest goes to the final search, which starts from their winners.",
    )
    ensemble_size: int = Field(
        20,
        ge=0,
        le=200,
        description="Rounds of greedy ensemble selection (Caruana) over each search's best "
        "trials' out-of-fold predictions; the blend ships as one scikit-learn estimator when "
        "it beats the best single pipeline. 0 or 1 ships the best single pipeline.",
    )
    refit_full: bool = Field(
        True,
        description="After the held-out test score is recorded, refit the winner on all rows "
        "(test rows included) before registering it. Above 100,000 training rows the model the "
        "test score describes ships instead.",
    )
    data_dir: str | None = Field(
        None, description="Registry and checkpoint folder; default $TUNELAB_HOME or ./tunelab-data."
    )
    run_id: str | None = Field(
        None, description="Reuse a previous run id to resume it without redoing finished trials."
    )
    report: bool = Field(
        True,
        description="Write report.html (search history, hyperparameter and test plots) next "
        "to the registered model and publish its tables as Prefect artifacts.",
    )
    mlflow: str | None = Field(
        None,
        description="MLflow tracking URI to log the run and register the model in; default "
        "$MLFLOW_TRACKING_URI (unset: no MLflow).",
    )
    dask_address: str | None = Field(
        None,
        description="Run outer folds on Dask: 'local' starts a LocalCluster, or a scheduler "
        "address (tcp://host:8786); unset runs them in threads.",
    )
    champion: str | None = Field(
        None,
        description="Alias of the current version of this model (e.g. production): the run "
        "checks today's data for drift against its training data, starts the search from its "
        "winners, scores it on this run's held-out test rows and moves the alias to the new "
        "version only if that scores better. Without a version under the alias, the new "
        "version takes it.",
    )
    min_improvement: float = Field(
        0.0,
        ge=0,
        allow_inf_nan=False,
        description="With champion: how much the new version's test score must exceed the "
        "champion's, on the same rows, to take the alias.",
    )
    warm_start: str | None = Field(
        None,
        description="NAME[:VERSION|ALIAS] of a registered version whose winners and best "
        "trials the search starts from (default with champion: the champion).",
    )
    drift_threshold: float = Field(
        DEFAULT_DRIFT_THRESHOLD,
        gt=0,
        allow_inf_nan=False,
        description="Population stability index above which a feature counts as drifted from "
        "the champion's (or warm-start version's) training data.",
    )
    fail_on_drift: bool = Field(
        False,
        description="Stop before training when a feature drifted above drift_threshold "
        "(default: warn and train).",
    )

    @field_validator("*", mode="before")
    @classmethod
    def _empty_means_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and value.strip() == "" else value

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str | None) -> str | None:
        return None if value is None else check_model_name(value)

    @field_validator("run_id")
    @classmethod
    def _check_run_id(cls, value: str | None) -> str | None:
        return None if value is None else check_run_id(value)

    @field_validator("families")
    @classmethod
    def _unique_families(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and not value:
            return None
        return None if value is None else list(dict.fromkeys(value))

    @field_validator("n_jobs")
    @classmethod
    def _some_cores(cls, value: int) -> int:
        if value == 0:
            raise ValueError("use a positive number of cores, or -1 for all")
        return value

    @field_validator("dask_address")
    @classmethod
    def _check_dask(cls, value: str | None) -> str | None:
        if value is None or value == "local" or "://" in value:
            return value
        raise ValueError("use 'local' or a scheduler address such as tcp://host:8786")

    @model_validator(mode="after")
    def _check_split_columns(self) -> RunConfig:
        """Split columns must differ from the target and from each other; groups and time
        order are not combined (a grouped forward-chaining split is not implemented)."""
        if self.group_column and self.time_column:
            raise ValueError(
                "give group_column or time_column, not both: grouped time-ordered splits are "
                "not supported"
            )
        if self.gap and not self.time_column:
            raise ValueError("gap needs time_column (it separates time-ordered folds)")
        named = {
            "group_column": self.group_column,
            "time_column": self.time_column,
            "weight_column": self.weight_column,
        }
        for setting, column in named.items():
            if column is not None and column == self.target:
                raise ValueError(f"{setting} {column!r} is the target; name another column")
        if self.weight_column and self.families == ["knn"]:
            raise ValueError("knn takes no row weights; with weight_column choose other families")
        given = [c for c in named.values() if c is not None]
        if len(set(given)) < len(given):
            raise ValueError("group_column, time_column and weight_column must be different")
        return self

    @field_validator("champion")
    @classmethod
    def _check_champion(cls, value: str | None) -> str | None:
        return None if value is None else check_alias(value)

    @field_validator("warm_start")
    @classmethod
    def _check_warm_start(cls, value: str | None) -> str | None:
        if value is not None:
            parse_reference(value)
        return value

    @classmethod
    def create(cls, **values: Any) -> RunConfig:
        """Validates ``values`` and turns pydantic's report into one readable line."""
        try:
            return cls(**values)
        except ValidationError as exc:
            raise ParameterError(describe_validation_error(exc)) from None

    @property
    def trials_per_search(self) -> int:
        """``max_evals``, or its default: 30 without a budget; under a budget, the clock."""
        if self.max_evals is not None:
            return self.max_evals
        return DEFAULT_MAX_EVALS if self.time_budget is None else UNLIMITED_EVALS

    def resume_manifest(self) -> dict[str, Any]:
        return self.model_dump(include=set(RESUME_KEYS))

    def parameters(self) -> dict[str, Any]:
        """What the registered metadata records about how the run was asked for."""
        return self.model_dump(
            exclude={"data", "target", "name", "data_dir", "run_id", "query", "mlflow"}
        )


def describe_validation_error(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors():
        field = ".".join(str(part) for part in error["loc"]) or "settings"
        message = error["msg"].removeprefix("Value error, ")
        value = error.get("input")
        if not error["loc"]:  # a check across settings names them in its message
            problems.append(message)
        elif error["type"] == "extra_forbidden":
            problems.append(f"unknown setting {field!r}")
        elif value is None and error["type"] in ("string_type", "missing"):
            problems.append(f"{field} is required")
        elif isinstance(value, float) and not math.isfinite(value):
            problems.append(f"{field} must be a finite number, got {value}")
        elif isinstance(value, (str, int, float)) and not isinstance(value, bool):
            problems.append(f"{field}={value!r}: {message}")
        else:
            problems.append(f"{field}: {message}")
    return "Invalid settings: " + "; ".join(problems)

"""The shapes of the files a resumed run reads back, as strict typed models.

A run folder holds what earlier attempts finished (``outer-<k>.result.json``) and each
search's trials (``*.trials.json``, see :mod:`tunelab.checkpoint`). Anyone who can write the
data dir can edit them, and a disk can damage them; every field is therefore checked for
its type before anything uses it (a text fold score once surfaced as a ``ValueError``
traceback on resume). Strict mode: ``"0.5"`` is not a number and ``true`` is not a count.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

JsonScalar = str | int | float | bool | None


def _names_a_family(config: dict[str, dict[str, JsonScalar]]) -> dict[str, dict[str, JsonScalar]]:
    family = config.get("model", {}).get("family")
    if not isinstance(family, str) or not family:
        raise ValueError("a pipeline configuration needs model.family as text")
    return config


#: A pipeline configuration: ``{"model": {"family": ..., <hyperparameters>}, <stage>: {...}}``.
PipelineConfig = Annotated[dict[str, dict[str, JsonScalar]], AfterValidator(_names_a_family)]
TrialStatusText = Literal["ok", "pruned", "cut", "failed", "skipped"]
Finite = Annotated[float, Field(allow_inf_nan=False)]
Count = Annotated[int, Field(ge=0)]


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


#: A share of rows: above 0, at most 1.
RowShare = Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)]


class TrialResultFile(_Strict):
    """The ``result`` of one hyperopt trial document: what the search's objective returned."""

    status: Literal["new", "ok", "fail"]
    family: str
    config: PipelineConfig
    loss: float | None = None
    outcome: TrialStatusText | None = None
    error: str = ""
    fit_seconds: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 0.0
    score: float | None = None
    score_std: float | None = None
    #: NaN is a possible fold score (a fold that failed to score); text is not.
    fold_scores: list[float] = Field(default_factory=list)
    #: When the trial ran (ISO-8601 UTC; trials run at once, so order alone does not say).
    started_at: str = ""
    finished_at: str = ""
    #: The share of its fold's training rows it fitted on (a large table's trials: a subset).
    row_share: RowShare = 1.0


class TrialRecordFile(_Strict):
    search: str
    number: Count
    family: str
    status: TrialStatusText
    score: float | None
    score_std: float | None
    fit_seconds: Annotated[float, Field(ge=0, allow_inf_nan=False)]
    config: PipelineConfig
    error: str = ""
    fold_scores: list[float] = Field(default_factory=list)
    started_at: str = ""
    finished_at: str = ""
    row_share: RowShare = 1.0


class MemberFile(_Strict):
    family: str
    weight: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
    trial: int
    config: PipelineConfig


class OuterFoldFile(_Strict):
    """``outer-<k>.result.json``: one finished outer fold."""

    fold: Count
    score: Finite
    inner_best_score: Finite
    best_config: PipelineConfig
    train_size: Count
    validation_size: Count
    trials: list[TrialRecordFile]
    members: list[MemberFile] = Field(default_factory=list)


def first_problem(error: ValidationError) -> str:
    """``trials.0.fold_scores.1: Input should be a valid number`` (and how many more)."""
    problems = error.errors(include_url=False)
    first = problems[0]
    where = ".".join(str(part) for part in first["loc"]) or "top level"
    more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
    return f"{where}: {first['msg']}{more}"


def check_shape(model: type[_Strict], data: Any) -> None:
    """Raises ValueError naming the first field of ``data`` that does not match ``model``.

    Only a check: callers keep ``data`` as read, so a resumed search sees the very documents
    an uninterrupted one had (no defaults filled in).
    """
    try:
        model.model_validate(data)
    except ValidationError as exc:
        raise ValueError(first_problem(exc)) from None

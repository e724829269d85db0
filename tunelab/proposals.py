"""What a search tries next while other trials still run: TPE with a constant liar.

Proposal ``k`` of a search with a proposal window ``w`` sees the results of trials
``0 .. k-w`` and treats trials ``k-w+1 .. k-1`` as finished with the worst loss seen so far
(the "constant liar", CL-max, Ginsbourger et al. 2010): TPE counts those points as poor and
proposes elsewhere, so trials in flight are not proposed twice. Because proposal ``k`` never
reads a result newer than ``k-w``, what a search proposes does not depend on which trial
happens to finish first: the same seed and the same window give the same trials. With
``w = 1`` (one trial at a time) this is exactly hyperopt's sequential ``fmin``.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from datetime import datetime, timezone
from functools import partial
from typing import Any

import numpy as np
from hyperopt import JOB_STATE_DONE, JOB_STATE_NEW, STATUS_FAIL, STATUS_OK, Trials, pyll, tpe
from hyperopt.base import Domain, spec_from_misc

from tunelab.models.kinds import TaskKind
from tunelab.space import build_space, config_to_vals


def _never_called(_: Any) -> dict[str, Any]:
    return {"status": STATUS_FAIL}


class Proposer:
    """Proposes trial ``k`` of one search from the results before it (deterministically)."""

    def __init__(
        self,
        task: TaskKind,
        families: Sequence[str],
        seed: int,
        label: str,
        n_startup: int,
        starting_points: Sequence[dict[str, Any]],
    ):
        self.task, self.families, self.seed = task, list(families), seed
        self.domain = Domain(_never_called, build_space(task, self.families))
        # Each search (outer fold, final) gets its own random stream so they do not mirror.
        self.stream = zlib.crc32(label.encode())
        self.algo = partial(tpe.suggest, n_startup_jobs=n_startup)
        self.starts = list(starting_points)

    def propose(
        self, k: int, known: Trials | Sequence[dict[str, Any]], pending: Sequence[dict[str, Any]]
    ) -> dict[str, Any]:
        """The new trial document for trial ``k`` (state NEW).

        ``known`` holds the trials TPE may learn from (a ``Trials`` is used as it is), and
        ``pending`` the later ones proposed but not yet counted (they enter as liars).
        """
        if k < len(self.starts):
            return self._starting_point(k, self.starts[k])
        if isinstance(known, Trials) and not pending:
            history = known
        else:
            history = with_liars(known.trials if isinstance(known, Trials) else known, pending)
        # fmin draws the algorithm's seed from its rstate exactly like this.
        rng = np.random.default_rng([self.seed, self.stream, k])
        (doc,) = self.algo([k], self.domain, history, rng.integers(2**31 - 1))
        return doc

    def sampled(self, doc: dict[str, Any]) -> dict[str, Any]:
        """The configuration a proposal stands for (a starting point's config is stored)."""
        if "start" in doc:
            return doc["start"]
        memo = self.domain.memo_from_config(spec_from_misc(doc["misc"]))
        return pyll.rec_eval(self.domain.expr, memo=memo)

    def _starting_point(self, k: int, config: dict[str, Any]) -> dict[str, Any]:
        vals = config_to_vals(config, self.task, self.families)
        misc = {
            "tid": k,
            "cmd": ("domain_attachment", "FMinIter_Domain"),
            "workdir": None,
            "idxs": {label: [k] if values else [] for label, values in vals.items()},
            "vals": vals,
        }
        doc = new_doc(k, misc)
        doc["start"] = config
        return doc


def new_doc(tid: int, misc: dict[str, Any]) -> dict[str, Any]:
    return {
        "state": JOB_STATE_NEW,
        "tid": tid,
        "spec": None,
        "result": {"status": "new"},
        "misc": misc,
        "exp_key": None,
        "owner": None,
        "version": 0,
        "book_time": None,
        "refresh_time": None,
    }


def finished_doc(
    doc: dict[str, Any], result: dict[str, Any], started: datetime, finished: datetime
) -> dict[str, Any]:
    """The proposal's document with its result, as fmin would have stored it."""
    done = {key: value for key, value in doc.items() if key != "start"}
    return {
        **done,
        "state": JOB_STATE_DONE,
        "result": result,
        "book_time": naive_utc(started),
        "refresh_time": naive_utc(finished),
    }


def naive_utc(moment: datetime) -> datetime:
    """hyperopt's documents hold naive UTC times."""
    return moment.astimezone(timezone.utc).replace(tzinfo=None)


def worst_loss(docs: Sequence[dict[str, Any]]) -> float | None:
    losses = [
        float(d["result"]["loss"])
        for d in docs
        if d["result"].get("status") == STATUS_OK and d["result"].get("loss") is not None
    ]
    return max(losses) if losses else None


def with_liars(known: Sequence[dict[str, Any]], pending: Sequence[dict[str, Any]]) -> Trials:
    """``known`` plus each pending proposal as if it had finished with the worst loss."""
    liar = worst_loss(known)
    result = {"status": STATUS_OK, "loss": liar} if liar is not None else {"status": STATUS_FAIL}
    view = Trials()
    lied = [
        {**{k: v for k, v in doc.items() if k != "start"}, "state": JOB_STATE_DONE}
        | {"result": dict(result)}
        for doc in pending
    ]
    view.insert_trial_docs([*known, *lied])  # copies every document
    view.refresh()
    return view

"""Per-trial progress lines, so a long search is never a silent terminal."""

from __future__ import annotations

import logging

from tunelab.search import ProgressCallback, TrialRecord


def trial_logger(logger: logging.Logger | logging.LoggerAdapter) -> ProgressCallback:
    def report(record: TrialRecord, best: TrialRecord | None, max_evals: int) -> None:
        outcome = (
            f"score={record.score:.4f}"
            if record.status == "ok"
            else f"{record.status}: {record.error}"
        )
        best_text = f"best={best.score:.4f} ({best.family})" if best else "best=none yet"
        logger.info(
            "[%s] trial %d/%d %s %s | %s | %.1fs",
            record.search,
            record.number + 1,
            max_evals,
            record.family,
            outcome,
            best_text,
            record.fit_seconds,
        )

    return report

"""Which scikit-learn scorers each task may use; no heavy imports, so the CLI can list them."""

from __future__ import annotations

DEFAULT_METRICS: dict[str, str] = {
    "binary": "roc_auc",
    "multiclass": "neg_log_loss",
    "regression": "r2",
}

#: Only label-agnostic scorers: ``f1`` would need a positive label users rarely think about.
METRICS_BY_TASK: dict[str, tuple[str, ...]] = {
    "binary": ("roc_auc", "accuracy", "balanced_accuracy", "f1_macro", "neg_log_loss"),
    "multiclass": ("neg_log_loss", "accuracy", "balanced_accuracy", "f1_macro", "roc_auc_ovr"),
    "regression": (
        "r2",
        "neg_root_mean_squared_error",
        "neg_mean_squared_error",
        "neg_mean_absolute_error",
    ),
}

ALL_METRICS: tuple[str, ...] = tuple(
    dict.fromkeys(m for ms in METRICS_BY_TASK.values() for m in ms)
)

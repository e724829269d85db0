"""Prefect deployments of tunelab's flows (``tunelab serve``, ``prefect.yaml``)."""

from tunelab import flows  # noqa: F401  (Prefect settings before Prefect is imported)

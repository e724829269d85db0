"""Prefect deployments of tunelab's flows (``tunelab serve``, ``prefect.yaml``)."""

import flows  # noqa: F401  (Prefect settings before Prefect is imported)

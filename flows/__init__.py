"""Prefect flows over the tunelab engine. Importing the package sets Prefect's settings first."""

import tunelab.flows.prefect_setup  # noqa: F401

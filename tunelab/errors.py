"""Errors users are meant to read.

Everything raised for bad input or bad parameters is a :class:`TunelabError`, so the CLI and
the flows can show the message alone instead of a traceback from deep inside a library.
"""


class TunelabError(Exception):
    """Base class for problems tunelab explains to the user."""

    #: Whether trying again may help (a flaky disk or share), as opposed to fixing the input.
    retryable = False


class DataValidationError(TunelabError, ValueError):
    """The input table (or a parameter that describes it) cannot be used as given."""


class DataReadError(TunelabError, OSError):
    """The file exists but reading it failed at the operating-system level."""

    retryable = True


class ParameterError(TunelabError, ValueError):
    """A run parameter is out of range or inconsistent with the data."""


class SearchFailedError(TunelabError, RuntimeError):
    """No trial of a search finished successfully, so there is no model to return."""


class RegistryError(TunelabError, LookupError):
    """A registered model is missing, ambiguous, or fails its integrity check."""

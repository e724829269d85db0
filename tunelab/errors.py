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


class OutOfMemoryError(TunelabError, MemoryError):
    """The table (or the work on it) needs more memory than the process may use.

    Not retryable: the same input needs the same memory on the next attempt.
    """


class ParameterError(TunelabError, ValueError):
    """A run parameter is out of range or inconsistent with the data."""


class SearchFailedError(TunelabError, RuntimeError):
    """No trial of a search finished successfully, so there is no model to return."""


class RegistryError(TunelabError, LookupError):
    """A registered model is missing, ambiguous, or fails its integrity check."""


class RegistryCorruptError(RegistryError):
    """A registry file (metadata, aliases) exists but is not what tunelab wrote."""


class CheckpointError(TunelabError, ValueError):
    """A run checkpoint is unreadable or was not written by tunelab; resuming from it is unsafe."""


class StorageError(TunelabError, OSError):
    """Writing under the data dir failed at the operating-system level (full, read-only, ...).

    Only transient errors (a flaky network share) are worth a retry; a full disk or a
    read-only folder stays that way, so those are reported at once.
    """

    def __init__(self, message: str, *, retryable: bool = False):
        super().__init__(message)
        self.retryable = retryable


class TrackingError(TunelabError, RuntimeError):
    """The MLflow server refused or could not be reached (its URI shown with secrets masked)."""

    retryable = True


class DataDriftError(TunelabError, ValueError):
    """Today's training data drifted from the champion's, and the run was asked to stop."""

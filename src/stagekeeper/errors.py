"""The one error hierarchy of stagekeeper.

Every error carries a stable ``code`` (for ``--json`` output and for callers) and an
``exit_code`` (for the CLI). Backends translate their driver errors into these, chained
with ``from exc``. Imports only the standard library.
"""

from __future__ import annotations


class StagekeeperError(Exception):
    """Base class of every error stagekeeper raises on purpose."""

    code = "error"
    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class NotFoundError(StagekeeperError):
    """A timeframe or model version does not exist."""

    code = "not_found"


class ConflictError(StagekeeperError):
    """The version exists already, or another writer changed the state first."""

    code = "conflict"


class ConcurrentUpdateError(ConflictError):
    """Another writer changed the state between our read and our write; safe to retry."""

    code = "concurrent_update"


class TransitionError(StagekeeperError):
    """The lifecycle does not allow the requested move."""

    code = "transition_not_allowed"


class ValidationError(StagekeeperError):
    """An input is malformed: timeframe, version, stage, reason or option."""

    code = "invalid_input"
    exit_code = 2


class BackendError(StagekeeperError):
    """The store cannot be used: unknown scheme, unreachable, or wrong schema version."""

    code = "store_unavailable"
    exit_code = 3

"""The one error hierarchy of stagekeeper.

Every error carries a stable ``code`` (for ``--json`` output and for callers); the CLI
alone maps codes to exit codes. Backends translate their driver errors into these,
chained with ``from exc``. Imports only the standard library.
"""

from __future__ import annotations

from typing import Literal

ErrorCode = Literal[
    "error",
    "not_found",
    "conflict",
    "concurrent_update",
    "lock_timeout",
    "lock_lost",
    "transition_not_allowed",
    "gate_failed",
    "invalid_input",
    "store_unavailable",
    "forbidden",
]


class StagekeeperError(Exception):
    """Base class of every error stagekeeper raises on purpose."""

    code: ErrorCode = "error"

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class NotFoundError(StagekeeperError):
    """A timeframe or model version does not exist."""

    code: ErrorCode = "not_found"


class ConflictError(StagekeeperError):
    """The version exists already, or another writer changed the state first."""

    code: ErrorCode = "conflict"


class ConcurrentUpdateError(ConflictError):
    """Another writer changed the state between our read and our write; safe to retry."""

    code: ErrorCode = "concurrent_update"


class LockTimeout(ConflictError):
    """Another writer held the timeframe's write lock for longer than this one would wait."""

    code: ErrorCode = "lock_timeout"


class LockLost(ConflictError):
    """This writer was stalled past its lock's lease and another writer took over; it
    stopped before writing anything more."""

    code: ErrorCode = "lock_lost"


class TransitionError(StagekeeperError):
    """The lifecycle does not allow the requested move."""

    code: ErrorCode = "transition_not_allowed"


class GateError(TransitionError):
    """The store's policy refuses the move: one or more of its gates failed. ``failures``
    holds each failed gate's one-line account (the value found and the value required)."""

    code: ErrorCode = "gate_failed"

    def __init__(self, message: str, failures: tuple[str, ...], *, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.failures = failures


class ForbiddenError(StagekeeperError):
    """The store refused the login that acts (a rule the database enforces: four eyes, a
    protected stage, the append-only history, a group's privileges). The message names the
    login and the rule."""

    code: ErrorCode = "forbidden"


class ValidationError(StagekeeperError):
    """An input is malformed or past a limit: timeframe, version, stage, text, template."""

    code: ErrorCode = "invalid_input"


class BackendError(StagekeeperError):
    """The store cannot be used. Raised as one of the subclasses below where the cause
    is known, so that callers need not parse messages."""

    code: ErrorCode = "store_unavailable"


class UnsupportedStore(BackendError):
    """No installed backend handles the URL, or the URL itself is unusable."""


class StoreUnreachable(BackendError):
    """The store does not exist, cannot be reached, or refused access."""


class DamagedStore(BackendError):
    """The store holds a record stagekeeper cannot read (changed by hand): the message says
    where, and ``doctor`` lists every one."""


class SchemaMismatch(BackendError):
    """The store's schema is at another revision than this stagekeeper needs."""

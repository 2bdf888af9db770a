"""``Registry``: the one public facade over the use cases, for the CLI, the Python API and
the web console alike.

Each method validates nothing and decides nothing itself: it hands its arguments to the
use case's module (``promotion``, ``metrics``, ``approvals``, ``policies``, ``reading``,
``events``, ``doctor``), which writes through the one write path (``writing``). A new use
case is a module of its own and a line or two here. Imports the service's modules, the
domain and the ports.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from types import TracebackType
from typing import Any

from stagekeeper.domain import validation
from stagekeeper.domain.approvals import ApprovalRequest
from stagekeeper.domain.conditions import GateResult
from stagekeeper.domain.errors import ValidationError
from stagekeeper.domain.events import Event
from stagekeeper.domain.identity import Identity
from stagekeeper.domain.model import (
    Committed,
    Finding,
    Metrics,
    ModelVersion,
    StageChange,
    TimeframeStatus,
)
from stagekeeper.domain.operation import OperationContext, utc_now
from stagekeeper.domain.policy import Policy, PolicyChange
from stagekeeper.domain.stages import Stage
from stagekeeper.domain.timeline import Reign
from stagekeeper.domain.tokens import ApiToken
from stagekeeper.service import (
    approvals,
    doctor,
    events,
    policies,
    promotion,
    reading,
    tokens,
)
from stagekeeper.service import metrics as recording  # ``metrics`` names a parameter here
from stagekeeper.service.ports import AccessManaged, ModelStore, SchemaManaged, StoreOptions
from stagekeeper.service.publishing import Publish, publish_nothing
from stagekeeper.service.review import Review, review
from stagekeeper.service.writing import Clock, Write, WritePath


class Registry:
    """The model-promotion registry over one store. Also a context manager that closes it."""

    def __init__(
        self,
        store: ModelStore,
        *,
        options: StoreOptions | None = None,
        actor: str = "unknown",
        clock: Clock = utc_now,
        publish: Publish = publish_nothing,
        identity: Identity | None = None,
    ) -> None:
        self.path = WritePath(
            store,
            options or StoreOptions(),
            actor=actor,
            clock=clock,
            publish=publish,
            identity=identity,
        )

    @property
    def store(self) -> ModelStore:
        return self.path.store

    @property
    def options(self) -> StoreOptions:
        return self.path.options

    @property
    def actor(self) -> str:
        return self.path.actor

    def model_name(self, timeframe: str) -> str:
        """The registered model's name for ``timeframe``, from the configured template."""
        return self.options.model_name(validation.timeframe(timeframe))

    # -- the one write path (see ``stagekeeper.service.writing``) -------------------------

    def commit(self, write: Write) -> Committed | None:
        """Plan under the lock, check, commit and publish one operation."""
        return self.path.commit(write)

    def context(self, reason: str | None = None, actor: str | None = None) -> OperationContext:
        """A new operation's context; take it inside a planner, under the lock."""
        return self.path.context(reason, actor)

    # -- moving versions (``promotion``) --------------------------------------------------

    def register(
        self,
        timeframe: str,
        version: int | str | None = None,
        *,
        source: str | None = None,
        metrics: Mapping[str, float | str] | None = None,
        reason: str | None = None,
        actor: str | None = None,
    ) -> ModelVersion:
        """Add a version in development: the next number, or ``version`` if given; with
        ``metrics``, recorded on it in the same step."""
        return promotion.register(
            self.path, timeframe, version, source=source, metrics=metrics, reason=reason,
            actor=actor,
        )  # fmt: skip

    def promote(
        self,
        timeframe: str,
        version: int | str,
        stage: Stage | str,
        *,
        reason: str | None = None,
        actor: str | None = None,
        force: bool = False,
    ) -> list[StageChange]:
        """Move a version to ``stage``; crowning a champion archives the old one atomically.
        The policy's gates and approvals apply: see ``stagekeeper.service.promotion``."""
        return promotion.promote(
            self.path, timeframe, version, stage, reason=reason, actor=actor, force=force
        )

    def rollback(
        self,
        timeframe: str,
        to_version: int | str | None = None,
        *,
        reason: str | None = None,
        actor: str | None = None,
    ) -> list[StageChange]:
        """Archive the champion and bring back the previous one (or ``to_version``), an
        archived former champion; an empty list when it is the champion already."""
        return promotion.rollback(self.path, timeframe, to_version, reason=reason, actor=actor)

    def check(
        self, timeframe: str, version: int | str, stage: Stage | str, *, reason: str | None = None
    ) -> builtins.list[GateResult]:
        """Every gate a promotion of the version to ``stage`` would face now, the lifecycle
        first, without moving anything: the move would be allowed if every one passed. A
        version already in ``stage`` faces none, as ``promote`` then changes nothing."""
        return promotion.check(self.path, timeframe, version, stage, reason=reason)

    # -- metrics (``metrics``) ------------------------------------------------------------

    def set_metrics(
        self,
        timeframe: str,
        version: int | str,
        metrics: Mapping[str, float | str],
        *,
        reason: str | None = None,
        actor: str | None = None,
    ) -> list[StageChange]:
        """Record metrics on a version. A value that replaces another is a change in the
        history (cause ``metrics``, the old and new values in its detail), never a silent
        overwrite; values already recorded change nothing. Returns the change made, if any.
        """
        return recording.set_metrics(
            self.path, timeframe, version, metrics, reason=reason, actor=actor
        )

    def metrics(self, timeframe: str, version: int | str) -> Metrics:
        """A version's metrics, by name; ``NotFoundError`` if the version does not exist."""
        found = self.get(timeframe, version)
        return self.store.metrics(found.timeframe, found.version)

    # -- approvals (``approvals``) --------------------------------------------------------

    def approve(
        self, request_id: str, *, reason: str | None = None, actor: str | None = None
    ) -> list[StageChange]:
        """Approve a pending request; the last approval it needs makes the move, in the same
        step, if the version still stands where it stood and every gate still passes.
        Returns the changes made: the approval's entry, then the move's if it happened."""
        return approvals.approve(self.path, request_id, reason=reason, actor=actor)

    def reject(
        self, request_id: str, *, reason: str | None, actor: str | None = None
    ) -> list[StageChange]:
        """Close a pending request without the move; a reason is required."""
        return approvals.reject(self.path, request_id, reason=reason, actor=actor)

    def requests(
        self, timeframe: str | None = None, *, pending_only: bool = True
    ) -> builtins.list[ApprovalRequest]:
        """Approval requests, oldest first: the pending ones, or all. A request past its
        expiry shows as expired even before anyone records it."""
        return approvals.requests(self.path, timeframe, pending_only=pending_only)

    def pending_request(
        self, timeframe: str, version: int | str, stage: Stage | str
    ) -> ApprovalRequest | None:
        """The pending request to move the version to ``stage``, if there is one."""
        return approvals.pending_request(self.path, timeframe, version, stage)

    # -- policies (``policies``) ----------------------------------------------------------

    def policy(self, timeframe: str | None = None) -> Policy:
        """The policy in force: a timeframe's own sections over the default's."""
        return policies.policy(self.store, timeframe)

    def set_policy(
        self,
        document: Mapping[str, Any],
        *,
        timeframe: str | None = None,
        reason: str | None = None,
        actor: str | None = None,
    ) -> PolicyChange:
        """Replace the default policy, or ``timeframe``'s own; checked before it is stored,
        and recorded in the policy's history."""
        return policies.set_policy(
            self.path, document, timeframe=timeframe, reason=reason, actor=actor
        )

    def policy_history(self) -> builtins.list[PolicyChange]:
        """Every policy change, oldest first."""
        return self.store.policy_history()

    # -- reads (``reading``) --------------------------------------------------------------

    def get(self, timeframe: str, version: int | str) -> ModelVersion:
        """One version; ``NotFoundError`` if it does not exist."""
        return reading.get(self.store, self.options, timeframe, version)

    def list(
        self, timeframe: str | None = None, stage: Stage | str | None = None
    ) -> builtins.list[ModelVersion]:
        """Versions, optionally of one timeframe and one stage, ordered by version."""
        return reading.versions(self.store, timeframe, stage)

    def review(self, timeframe: str, version: int | str) -> Review:
        """One version at a glance: metrics beside the champion's, gates, requests, history."""
        return review(self.path, timeframe, version)

    def champion(self, timeframe: str) -> ModelVersion | None:
        """The timeframe's champion, or ``None``."""
        return self.store.champion(validation.timeframe(timeframe))

    def history(
        self,
        timeframe: str | None = None,
        version: int | str | None = None,
        limit: int | str | None = None,
    ) -> builtins.list[StageChange]:
        """Recorded changes, oldest first; ``limit`` keeps only the most recent ones."""
        return reading.history(self.store, timeframe, version, limit)

    def status(self) -> builtins.list[TimeframeStatus]:
        """Per timeframe: the champion version (or ``None``) and the count per stage."""
        return self.store.status()

    # -- events and the timeline (``events``) ---------------------------------------------

    def events(
        self, timeframe: str | None = None, since: str | None = None
    ) -> builtins.list[Event]:
        """The committed operations after the cursor ``since`` (the start if ``None``), one
        event each, every timeframe's in commit order; each carries the cursor to resume
        from after it. See ``stagekeeper.domain.events``."""
        return events.events(self.store, timeframe, since)

    def follow(
        self,
        timeframe: str | None = None,
        since: str | None = None,
        *,
        interval: float = 1.0,
        stopped: Callable[[], bool] = lambda: False,
    ) -> Iterator[Event]:
        """Every event after ``since``, then each new one as it is committed, by any process,
        until ``stopped`` says so; see ``stagekeeper.service.events.follow``."""
        return events.follow(self.store, timeframe, since, interval=interval, stopped=stopped)

    def wait_for_changes(self, timeout: float) -> None:
        """Wait until the history may have grown, for at most ``timeout`` seconds: told by
        the store where it can tell (PostgreSQL's NOTIFY), else simply the wait."""
        events.wait_for_changes(self.store, timeout)

    def timeline(
        self, timeframe: str | None = None, since: datetime | None = None
    ) -> builtins.list[Reign]:
        """The champions' reigns, oldest first; with ``since``, those that lasted past it."""
        return events.timeline(self.store, timeframe, since)

    # -- health and schema ----------------------------------------------------------------

    def doctor(self, timeframe: str | None = None, *, fix: bool = False) -> builtins.list[Finding]:
        """Where the store disagrees with itself; with ``fix``, what can be is repaired."""
        scope = None if timeframe is None else validation.timeframe(timeframe)
        return doctor.examine(self.path, scope, fix=fix)

    def access(self) -> AccessManaged:
        """The store's logins and their rules (PostgreSQL); ``ValidationError`` elsewhere."""
        if not isinstance(self.store, AccessManaged):
            raise ValidationError(
                "this store has no logins: roles and their rules are for PostgreSQL stores"
            )
        return self.store

    # -- the console's tokens (``tokens``) ------------------------------------------------

    def create_token(
        self, user: str, role: str, expires: str | None = None
    ) -> tuple[str, ApiToken]:
        """A token for ``user`` with ``role`` (for ``expires``, e.g. ``30d``): the token
        itself (shown once), and its ``ApiToken`` record."""
        return tokens.create(self.path, user, role, expires)

    def tokens(self) -> builtins.list[ApiToken]:
        """Every token's record (never the token), revoked ones too."""
        return self.store.tokens()

    def revoke_token(self, token_id: str) -> ApiToken:
        return tokens.revoke(self.path, token_id)

    def upgrade_schema(self) -> str | None:
        """Bring the store's schema up to date; its revision (``None``: not versioned)."""
        return self.store.upgrade_schema() if isinstance(self.store, SchemaManaged) else None

    # -- lifetime -------------------------------------------------------------------------

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Registry:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

"""The one write path: every use case's writes end in ``WritePath.commit``.

1. the store takes the timeframe's write lock, and the use case plans under it, reading
   through the store's view and taking the operation's context there (``context``: who,
   when, why, an id), so that its time and its place in the history are the commit's;
2. the write path's checks run on the plan: the one precondition check, ``Plan.violation``,
   against what the view shows, and the lifecycle's verdict on every move;
3. the store commits the plan atomically;
4. the committed operation is published, exactly once.

A registration is planned by the store itself (it alone knows the next number): its time
and id are taken when the store first reads them, under its lock. A policy change is kept
in the store's own policy history, as one write, and is no event of a timeframe, so it is
not published. Writers of one timeframe wait for each other at step 1 instead of racing,
so no plan is ever stale and nothing is retried.

The use-case modules (``promotion``, ``metrics``, ``approvals``, ``policies``, ``doctor``)
take this narrow path, never the ``Registry`` facade. Imports the domain and the ports.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from datetime import datetime

from stagekeeper.domain import validation
from stagekeeper.domain.errors import NotFoundError
from stagekeeper.domain.identity import Identity
from stagekeeper.domain.model import Committed, Plan, Registration, StageChange, VersionState
from stagekeeper.domain.operation import OperationContext, new_operation_id, utc_now
from stagekeeper.domain.policy import PolicyChange
from stagekeeper.service.checks import check_lifecycle, check_preconditions
from stagekeeper.service.ports import ModelStore, Planned, Planner, StoreOptions, TimeframeView
from stagekeeper.service.publishing import Publish, publish_nothing

Clock = Callable[[], datetime]
Write = Registration | Planned | PolicyChange


class WritePath:
    """A store, the options it was opened with, who acts by default, a clock, and where
    committed operations are published."""

    def __init__(
        self,
        store: ModelStore,
        options: StoreOptions,
        *,
        actor: str,
        clock: Clock = utc_now,
        publish: Publish = publish_nothing,
        identity: Identity | None = None,
    ) -> None:
        self.store, self.options = store, options
        self.actor = validation.actor(actor)
        self.clock, self._publish = clock, publish
        # Who acts, when an entry point verified it itself (the console's signed-in user);
        # else the store says (``identity()``).
        self._identity = identity

    def commit(self, write: Write) -> Committed | None:
        """Plan under the lock, check, commit and publish one operation. Returns what was
        committed, or ``None`` when the planner found nothing to do (or for a policy
        change, which is kept but is no timeframe's operation).

        A check refuses a plan by raising (``TransitionError``, a policy's gate); nothing
        changes and nothing is published.
        """
        if isinstance(write, PolicyChange):
            self.store.set_policy(write)
            return None
        if isinstance(write, Registration):
            version = self.store.register(write)
            change = write.change_for(version.version)
            committed = Committed(
                write.operation_id, write.timeframe, (_at(change, version.created_at),), version
            )
        else:
            plan = self.store.transact(write.timeframe, checked(write.planner))
            if plan is None or not plan.changes:
                return None
            committed = Committed(plan.changes[0].operation_id, plan.timeframe, tuple(plan.changes))
        try:
            self._publish(committed)
        except Exception as exc:  # committed is committed: a listener must not undo the answer
            warnings.warn(
                f"operation {committed.operation_id} was committed, but publishing it failed: "
                f"{type(exc).__name__}: {exc}",
                stacklevel=3,
            )
        return committed

    def context(self, reason: str | None = None, actor: str | None = None) -> OperationContext:
        """A new operation's context: validated reason and actor, the time, a fresh id.

        Take it inside a planner, under the lock, so that its time is the commit's.
        """
        return OperationContext(
            validation.reason(reason),
            self.actor_of(actor),
            self.clock(),
            new_operation_id(),
            self.identity(),
        )

    def identity(self) -> Identity | None:
        """The verified identity that acts: the entry point's, else the store's, else none."""
        return self._identity or self.store.identity()

    def stamp(self) -> tuple[datetime, str]:
        """A registration's time and id, taken when its store first reads them."""
        return self.clock(), new_operation_id()

    def actor_of(self, actor: str | None) -> str:
        return self.actor if actor is None else validation.actor(actor)

    def existing(self, view: TimeframeView, number: int) -> VersionState:
        """Version ``number`` as the view shows it; ``NotFoundError`` if there is none."""
        found = view.get(number)
        if found is None:
            raise NotFoundError(
                f"{self.options.model_name(view.timeframe)} has no version {number}"
            )
        return found


def checked(planner: Planner) -> Planner:
    """The planner, followed by the write path's checks, all under the lock."""

    def plan(view: TimeframeView) -> Plan | None:
        planned = planner(view)
        if planned is None:
            return None
        check_preconditions(planned, view)
        check_lifecycle(planned, view)
        return planned

    return plan


def changes(committed: Committed | None) -> list[StageChange]:
    """The changes an operation committed, for a use case to return."""
    return [] if committed is None else list(committed.changes)


def _at(change: StageChange, at: datetime) -> StageChange:
    """The registration's entry at the version's creation time, as the store kept it."""
    import dataclasses

    return dataclasses.replace(change, at=at)

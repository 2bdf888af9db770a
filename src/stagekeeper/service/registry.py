"""The use cases: register, promote, rollback, list, history, status, doctor, upgrade.

Every write goes through ``Registry.commit``, the one write path:

1. the store takes the timeframe's write lock, and the use case plans under it, reading
   through the store's view and taking the operation's context (who, when, why, id), so
   that its time and its place in the history are those of the commit;
2. the checks run on the plan: the lifecycle for every move (policies next), and the one
   precondition check, ``Plan.violation``, against what the view shows;
3. the store commits the plan atomically;
4. the committed operation is published, exactly once.

Writers of one timeframe wait for each other at step 1 instead of racing, so no plan is
ever stale and nothing is retried.

Presentation never enters here: no printing, no formatting. Imports the domain and the
ports, never an adapter or a backend.
"""

from __future__ import annotations

import builtins
import dataclasses
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any

from stagekeeper.domain import events as stream
from stagekeeper.domain import policy as policies
from stagekeeper.domain import validation
from stagekeeper.domain.approvals import ApprovalRequest, RequestState
from stagekeeper.domain.errors import (
    NotFoundError,
    TransitionError,
    ValidationError,
)
from stagekeeper.domain.events import Event
from stagekeeper.domain.model import (
    Committed,
    Finding,
    Metrics,
    ModelVersion,
    Plan,
    Registration,
    StageChange,
    TimeframeStatus,
    metrics_detail,
)
from stagekeeper.domain.operation import OperationContext, new_operation_id, utc_now
from stagekeeper.domain.policy import GateResult, Policy, PolicyChange
from stagekeeper.domain.stages import Cause, Stage
from stagekeeper.service import approving, doctor, gates
from stagekeeper.service.checks import check_lifecycle, check_preconditions, number_of
from stagekeeper.service.ports import (
    SERVES_MODELS_URIS,
    ChangeNotifying,
    ModelStore,
    Planned,
    Planner,
    SchemaManaged,
    StoreOptions,
    TimeframeView,
)
from stagekeeper.service.publishing import Publish, publish_nothing
from stagekeeper.service.reading import StoreView

Clock = Callable[[], datetime]
Check = Callable[[Plan, TimeframeView], None]


Write = Registration | Planned


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
    ) -> None:
        self.store = store
        self.options = options or StoreOptions()
        self.actor = validation.actor(actor)
        self._clock = clock
        self._publish = publish

    def model_name(self, timeframe: str) -> str:
        """The registered model's name for ``timeframe``, from the configured template."""
        return self.options.model_name(validation.timeframe(timeframe))

    # -- the one write path -------------------------------------------------------------

    def commit(self, write: Write, checks: Sequence[Check] = ()) -> Committed | None:
        """Plan under the lock, check, commit and publish one operation; every write of
        every use case ends here. Returns what was committed, or ``None`` when the planner
        found nothing to do.

        A check refuses a plan by raising (``TransitionError``, a policy's gate); nothing
        changes and nothing is published.
        """
        if isinstance(write, Registration):
            version = self.store.register(write)
            change = dataclasses.replace(write.change_for(version.version), at=version.created_at)
            committed = Committed(write.operation_id, write.timeframe, (change,), version)
        else:
            plan = self.store.transact(write.timeframe, _checked(write.planner, checks))
            if plan is None or not plan.changes:
                return None
            committed = Committed(plan.changes[0].operation_id, plan.timeframe, tuple(plan.changes))
        try:
            self._publish(committed)
        except Exception as exc:  # committed is committed: a listener must not undo the answer
            warnings.warn(
                f"operation {committed.operation_id} was committed, but publishing it failed: "
                f"{type(exc).__name__}: {exc}",
                stacklevel=2,
            )
        return committed

    def context(self, reason: str | None = None, actor: str | None = None) -> OperationContext:
        """A new operation's context: validated reason and actor, the time, a fresh id.

        Take it inside a planner, under the lock, so that its time is the commit's.
        """
        return OperationContext(
            validation.reason(reason), self._actor(actor), self._clock(), new_operation_id()
        )

    # -- writes -------------------------------------------------------------------------

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
        values = validation.metrics(metrics)
        context = self.context(reason, actor)
        registration = Registration(
            timeframe=validation.timeframe(timeframe),
            model_name=self.model_name(timeframe),
            version=validation.optional_version(version),
            source=validation.source(source),
            reason=context.reason,
            actor=context.actor,
            at=context.at,
            operation_id=context.operation_id,
            metrics=values,
            detail=metrics_detail(values, {}) if values else None,
        )
        committed = self.commit(registration)
        assert committed is not None and committed.version is not None  # always one
        return committed.version

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

        The store's policy must let the move through (``GateError`` lists every gate that
        failed); ``force`` goes past the gates, with a reason, unless the policy forbids
        it, and never past the lifecycle. Returns the changes made, the auto-demotion
        first; an empty list when the version is already in ``stage``.

        When the policy asks for approvals, nothing moves: a request is recorded and the
        one change returned is its history entry (cause ``request``); ``pending_request``
        finds it, and ``approve`` completes it. Asking again while it is pending changes
        nothing and returns an empty list.
        """
        timeframe = validation.timeframe(timeframe)
        number = validation.version(version)
        target = Stage.parse(stage)
        reason = validation.reason(reason)
        actor = None if actor is None else validation.actor(actor)
        if force and not (reason and reason.strip()):
            raise ValidationError("a forced move needs a reason: give --force with --reason")

        def plan(view: TimeframeView) -> Plan | None:
            current = self._existing(view, timeframe, number)
            if current.stage is target:
                return None
            policy = policy_of(view)
            context = self.context(reason, actor)
            move = context.change(current, target, Cause.FORCED if force else Cause.PROMOTION)
            check_lifecycle(Plan(timeframe, None, (move,)), view)  # before any gate
            champion = view.champion() if target is Stage.CHAMPION else None
            results = gates.judge(
                policy, view, current, target,
                champion=champion, reason=context.reason, now=context.at,
            )  # fmt: skip
            subject = f"version {number} of {current.model_name}"
            admission = gates.admit(policy, target, results, subject, force=force)
            if admission.asks_approval:
                identity = self.store.identity()
                return approving.request_plan(
                    view, context, current, target, policy.gates(target), identity
                )
            if admission.detail is not None:
                move = dataclasses.replace(move, detail=admission.detail)
            changes = []
            if champion is not None:
                changes.append(context.change(champion, Stage.ARCHIVED, Cause.AUTO_DEMOTION))
            changes.append(move)
            return Plan(timeframe, number_of(champion), tuple(changes))

        return _changes(self.commit(Planned(timeframe, plan)))

    def rollback(
        self,
        timeframe: str,
        to_version: int | str | None = None,
        *,
        reason: str | None = None,
        actor: str | None = None,
    ) -> list[StageChange]:
        """Archive the champion and bring back the previous one (or ``to_version``).

        Only an archived version that has been champion before can come back. Returns the
        changes made; an empty list when ``to_version`` is already the champion.
        """
        timeframe = validation.timeframe(timeframe)
        wanted = validation.optional_version(to_version)
        reason = validation.reason(reason)
        actor = None if actor is None else validation.actor(actor)

        def plan(view: TimeframeView) -> Plan | None:
            champion = view.champion()
            target = self._rollback_target(view, timeframe, wanted, champion)
            if champion is not None and target.version == champion.version:
                return None
            context = self.context(reason, actor)
            failures = gates.failed(
                gates.judge(
                    policy_of(view), view, target, Stage.CHAMPION,
                    champion=champion, reason=context.reason, now=context.at, rollback=True,
                )
            )  # fmt: skip
            if failures:
                subject = f"version {target.version} of {target.model_name}"
                raise gates.refusal(failures, subject, Stage.CHAMPION)
            changes = []
            if champion is not None:
                changes.append(context.change(champion, Stage.ARCHIVED, Cause.ROLLBACK))
            changes.append(context.change(target, Stage.CHAMPION, Cause.ROLLBACK))
            return Plan(timeframe, number_of(champion), tuple(changes))

        return _changes(self.commit(Planned(timeframe, plan)))

    def _rollback_target(
        self,
        view: TimeframeView,
        timeframe: str,
        wanted: int | None,
        champion: ModelVersion | None,
    ) -> ModelVersion:
        if wanted is not None:
            return self._existing(view, timeframe, wanted)
        previous = view.previous_champion(number_of(champion))
        if previous is not None:
            return previous
        raise TransitionError(f"{timeframe} has no archived former champion to roll back to")

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
        timeframe = validation.timeframe(timeframe)
        number = validation.version(version)
        values = validation.metrics(metrics)
        if not values:
            raise ValidationError("no metrics given: name at least one, e.g. sharpe=1.42")
        reason = validation.reason(reason)
        actor = None if actor is None else validation.actor(actor)

        def plan(view: TimeframeView) -> Plan | None:
            current = self._existing(view, timeframe, number)
            recorded = view.metrics(number)
            new = {name: value for name, value in values.items() if recorded.get(name) != value}
            if not new:
                return None
            context = self.context(reason, actor)
            change = dataclasses.replace(
                context.change(current, current.stage, Cause.METRICS),
                detail=metrics_detail(new, recorded),
            )
            return Plan(timeframe, None, (change,), records_only=True, metrics={number: new})

        return _changes(self.commit(Planned(timeframe, plan)))

    def check(
        self,
        timeframe: str,
        version: int | str,
        stage: Stage | str,
        *,
        reason: str | None = None,
    ) -> builtins.list[GateResult]:
        """Every gate a promotion of the version to ``stage`` would face now, the lifecycle
        first, without moving anything: the move would be allowed if every one passed. A
        version already in ``stage`` faces none, as ``promote`` then changes nothing."""
        from stagekeeper.domain import lifecycle

        timeframe = validation.timeframe(timeframe)
        number = validation.version(version)
        target = Stage.parse(stage)
        reason = validation.reason(reason)
        view = StoreView(self.store, timeframe)
        current = self._existing(view, timeframe, number)
        if current.stage is target:
            return [gates.nothing_to_change(current)]
        allowed = target in lifecycle.allowed_targets(current.stage)
        champion = view.champion() if target is Stage.CHAMPION else None
        return [
            gates.lifecycle_result(allowed, current, target),
            *gates.judge(
                policy_of(view), view, current, target,
                champion=champion, reason=reason, now=self._clock(),
            ),
        ]  # fmt: skip

    # -- approvals ----------------------------------------------------------------------

    def approve(
        self, request_id: str, *, reason: str | None = None, actor: str | None = None
    ) -> list[StageChange]:
        """Approve a pending request; the last approval it needs makes the move, in the same
        step, if the version still stands where it stood and every gate still passes.
        Returns the changes made: the approval's entry, then the move's if it happened."""
        request = self._request(request_id)
        reason = validation.reason(reason)
        actor = None if actor is None else validation.actor(actor)
        identity = self.store.identity()

        def plan(view: TimeframeView) -> Plan | None:
            found = approving.find(view, request.id)
            context = self.context(reason, actor)
            return approving.approval_plan(view, found, context, identity, policy_of(view))

        return self._acting_on(request, plan, actor)

    def reject(
        self, request_id: str, *, reason: str | None, actor: str | None = None
    ) -> list[StageChange]:
        """Close a pending request without the move; a reason is required."""
        request = self._request(request_id)
        reason = validation.reason(reason)
        if not (reason and reason.strip()):
            raise ValidationError("a rejection needs a reason: give --reason")
        actor = None if actor is None else validation.actor(actor)

        def plan(view: TimeframeView) -> Plan | None:
            found = approving.find(view, request.id)
            return approving.rejection_plan(view, found, self.context(reason, actor))

        return self._acting_on(request, plan, actor)

    def _acting_on(
        self, request: ApprovalRequest, planner: Planner, actor: str | None
    ) -> list[StageChange]:
        """Commit an action on a request; one that finds it expired records the expiry
        instead, and is then refused."""
        expired: list[ApprovalRequest] = []

        def plan(view: TimeframeView) -> Plan | None:
            context = self.context(None, actor)  # the expiry is recorded as theirs
            closed, records = approving.expire(view, [approving.find(view, request.id)], context)
            if closed:
                expired.extend(closed)
                return Plan(request.timeframe, None, tuple(records), True, requests=closed)
            return planner(view)

        changes = _changes(self.commit(Planned(request.timeframe, plan)))
        if expired:
            raise TransitionError(
                f"request {request.id} expired at {expired[0].expires_at:%Y-%m-%d %H:%M} UTC; "
                "nothing approved",
                hint="ask again with promote",
            )
        return changes

    def requests(
        self, timeframe: str | None = None, *, pending_only: bool = True
    ) -> builtins.list[ApprovalRequest]:
        """Approval requests, oldest first: the pending ones, or all. A request past its
        expiry shows as expired even before anyone records it."""
        now = self._clock()
        found = [
            dataclasses.replace(request, state=request.state_at(now))
            for request in self.store.requests(
                None if timeframe is None else validation.timeframe(timeframe)
            )
        ]
        return [r for r in found if not pending_only or r.state is RequestState.PENDING]

    def pending_request(
        self, timeframe: str, version: int | str, stage: Stage | str
    ) -> ApprovalRequest | None:
        """The pending request to move the version to ``stage``, if there is one."""
        number, target = validation.version(version), Stage.parse(stage)
        return next(
            (r for r in self.requests(timeframe) if r.version == number and r.target is target),
            None,
        )

    def _request(self, request_id: str) -> ApprovalRequest:
        wanted = validation.text(request_id, "request id", 64).strip()
        found = next((r for r in self.store.requests() if r.id == wanted), None)
        if found is None:
            raise NotFoundError(f"no approval request {wanted}")
        return found

    # -- policies -----------------------------------------------------------------------

    def policy(self, timeframe: str | None = None) -> Policy:
        """The policy in force: a timeframe's own sections over the default's."""
        documents = self.store.policies()
        own = None if timeframe is None else documents.get(validation.timeframe(timeframe))
        return policies.effective(documents.get(None), own)

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
        scope = None if timeframe is None else validation.timeframe(timeframe)
        parsed = policies.parse(document)
        context = self.context(reason, actor)
        change = PolicyChange(
            context.operation_id, scope, parsed.document, context.actor, context.at, context.reason
        )
        self.store.set_policy(change)
        return change

    def policy_history(self) -> builtins.list[PolicyChange]:
        """Every policy change, oldest first."""
        return self.store.policy_history()

    def _existing(self, view: TimeframeView, timeframe: str, number: int) -> ModelVersion:
        found = view.get(number)
        if found is None:
            raise NotFoundError(f"{self.options.model_name(timeframe)} has no version {number}")
        return found

    def _actor(self, actor: str | None) -> str:
        return self.actor if actor is None else validation.actor(actor)

    # -- reads --------------------------------------------------------------------------

    def get(self, timeframe: str, version: int | str) -> ModelVersion:
        """One version; ``NotFoundError`` if it does not exist."""
        timeframe = validation.timeframe(timeframe)
        number = validation.version(version)
        found = self.store.get(timeframe, number)
        if found is None:
            raise NotFoundError(f"{self.options.model_name(timeframe)} has no version {number}")
        return found

    def list(
        self, timeframe: str | None = None, stage: Stage | str | None = None
    ) -> builtins.list[ModelVersion]:
        """Versions, optionally of one timeframe and one stage, ordered by version."""
        return self.store.versions(
            None if timeframe is None else validation.timeframe(timeframe),
            None if stage is None else Stage.parse(stage),
        )

    def metrics(self, timeframe: str, version: int | str) -> Metrics:
        """A version's metrics, by name; ``NotFoundError`` if the version does not exist."""
        found = self.get(timeframe, version)
        return self.store.metrics(found.timeframe, found.version)

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
        return self.store.history(
            None if timeframe is None else validation.timeframe(timeframe),
            validation.optional_version(version),
            validation.limit(limit),
        )

    def events(
        self, timeframe: str | None = None, since: str | None = None
    ) -> builtins.list[Event]:
        """The committed operations after the cursor ``since`` (the start if ``None``), one
        event each, every timeframe's in commit order; each carries the cursor to resume
        from after it. See ``stagekeeper.domain.events``."""
        positions = stream.parse_cursor(since)
        history = self.history(timeframe)
        found = stream.after(stream.events(history), positions)
        return [self._published(event, positions) for event in found]

    def wait_for_changes(self, timeout: float) -> None:
        """Wait until the history may have grown, for at most ``timeout`` seconds: told by
        the store where it can tell (PostgreSQL's NOTIFY), else simply the wait."""
        if isinstance(self.store, ChangeNotifying):
            self.store.wait_for_changes(timeout)
        else:
            time.sleep(timeout)

    def _published(self, event: Event, positions: dict[str, stream.Position]) -> Event:
        """The event with its cursor (``positions`` move on) and its new champion's model."""
        positions[event.timeframe] = stream.Position.at(event)
        source = uri = None
        if event.new_champion is not None:
            found = self.store.get(event.timeframe, event.new_champion)
            source = None if found is None else found.source
            if SERVES_MODELS_URIS in self.store.capabilities:
                uri = f"models:/{event.model_name}@champion"
        return dataclasses.replace(
            event,
            cursor=stream.format_cursor(positions),
            champion_source=source,
            champion_uri=uri,
        )

    def status(self) -> builtins.list[TimeframeStatus]:
        """Per timeframe: the champion version (or ``None``) and the count per stage."""
        return self.store.status()

    # -- health and schema --------------------------------------------------------------

    def doctor(self, timeframe: str | None = None, *, fix: bool = False) -> builtins.list[Finding]:
        """Report where the store disagrees with itself; with ``fix``, repair what can be.

        See ``stagekeeper.service.doctor``.
        """
        return doctor.examine(
            self, None if timeframe is None else validation.timeframe(timeframe), fix=fix
        )

    def upgrade_schema(self) -> str | None:
        """Bring the store's schema to this stagekeeper's version; its revision, or ``None``
        for a store without a versioned schema."""
        return self.store.upgrade_schema() if isinstance(self.store, SchemaManaged) else None

    # -- lifetime -----------------------------------------------------------------------

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


def _checked(planner: Planner, checks: Sequence[Check]) -> Planner:
    """The planner, followed by the write path's checks, all under the lock."""

    def plan(view: TimeframeView) -> Plan | None:
        planned = planner(view)
        if planned is None:
            return None
        for check in (check_preconditions, check_lifecycle, *checks):
            check(planned, view)
        return planned

    return plan


def policy_of(view: TimeframeView) -> Policy:
    """The timeframe's policy in force, read through the view (under the lock, for a write)."""
    documents = view.policies()
    return policies.effective(documents.get(None), documents.get(view.timeframe))


def _changes(committed: Committed | None) -> list[StageChange]:
    return [] if committed is None else list(committed.changes)

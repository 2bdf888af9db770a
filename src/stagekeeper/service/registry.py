"""The use cases: register, promote, rollback, list, history, status, doctor, upgrade.

Every write goes through ``Registry.commit``, the one write path:

1. the operation's context (who, when, why, id) is taken by the use case;
2. the checks that apply run (the lifecycle now; policies next);
3. the store commits the plan atomically, if what it was planned from still holds;
4. the committed operation is published, exactly once.

Presentation never enters here: no printing, no formatting. Imports the domain and the
ports, never an adapter or a backend.
"""

from __future__ import annotations

import builtins
import dataclasses
import random
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from types import TracebackType

from stagekeeper.domain import lifecycle, validation
from stagekeeper.domain.errors import ConcurrentUpdateError, NotFoundError, TransitionError
from stagekeeper.domain.model import (
    Committed,
    Finding,
    ModelVersion,
    Plan,
    Registration,
    StageChange,
    TimeframeStatus,
)
from stagekeeper.domain.operation import OperationContext, new_operation_id, utc_now
from stagekeeper.domain.stages import Cause, Stage
from stagekeeper.service import doctor
from stagekeeper.service.ports import ModelStore, SchemaManaged, StoreOptions
from stagekeeper.service.publishing import Publish, publish_nothing

Clock = Callable[[], datetime]
Write = Registration | Plan
Check = Callable[[Plan], None]
# A plan that loses a race is re-planned from a fresh read, up to this many times in all.
ATTEMPTS = 10


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

    def commit(self, write: Write, checks: Sequence[Check] = ()) -> Committed:
        """Check, commit and publish one operation; every write of every use case ends here.

        ``checks`` refuse a plan by raising (``TransitionError``, a policy's gate); the store
        raises ``ConcurrentUpdateError`` when the plan no longer holds. Either way nothing
        changes and nothing is published.
        """
        if isinstance(write, Registration):
            version = self.store.register(write)
            change = dataclasses.replace(write.change_for(version.version), at=version.created_at)
            committed = Committed(write.operation_id, write.timeframe, (change,), version)
        else:
            for check in checks:
                check(write)
            self.store.apply(write)
            operation_id = write.changes[0].operation_id if write.changes else ""
            committed = Committed(operation_id, write.timeframe, tuple(write.changes))
        self._publish(committed)
        return committed

    def context(self, reason: str | None = None, actor: str | None = None) -> OperationContext:
        """A new operation's context: validated reason and actor, the time, a fresh id."""
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
        reason: str | None = None,
        actor: str | None = None,
    ) -> ModelVersion:
        """Add a version in development: the next number, or ``version`` if given."""
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
        )
        committed = self.commit(registration)
        assert committed.version is not None  # a registration always makes one
        return committed.version

    def promote(
        self,
        timeframe: str,
        version: int | str,
        stage: Stage | str,
        *,
        reason: str | None = None,
        actor: str | None = None,
    ) -> list[StageChange]:
        """Move a version to ``stage``; crowning a champion archives the old one atomically.

        Returns the changes made, the auto-demotion first; an empty list when the version
        is already in ``stage``.
        """
        timeframe = validation.timeframe(timeframe)
        number = validation.version(version)
        target = Stage.parse(stage)
        reason = validation.reason(reason)
        for _attempt in _attempts():
            current = self._existing(timeframe, number)
            if current.stage is target:
                return []
            context = self.context(reason, actor)
            champion = self.store.champion(timeframe) if target is Stage.CHAMPION else None
            changes = []
            if champion is not None:
                changes.append(context.change(champion, Stage.ARCHIVED, Cause.AUTO_DEMOTION))
            changes.append(context.change(current, target, Cause.PROMOTION))
            plan = Plan(timeframe, _number(champion), tuple(changes))
            allowed = _lifecycle_check(current, target)
            if self._committed(plan, [allowed]):
                return changes
        raise _gave_up(timeframe)

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
        for _attempt in _attempts():
            champion = self.store.champion(timeframe)
            former = self._former_champions(timeframe)
            target = self._rollback_target(timeframe, wanted, champion, former)
            if champion is not None and target.version == champion.version:
                return []
            context = self.context(reason, actor)
            changes = []
            if champion is not None:
                changes.append(context.change(champion, Stage.ARCHIVED, Cause.ROLLBACK))
            changes.append(context.change(target, Stage.CHAMPION, Cause.ROLLBACK))
            plan = Plan(timeframe, _number(champion), tuple(changes))
            allowed = _lifecycle_check(
                target, Stage.CHAMPION, rollback=True, was_champion=target.version in former
            )
            if self._committed(plan, [allowed]):
                return changes
        raise _gave_up(timeframe)

    def _committed(self, plan: Plan, checks: Sequence[Check]) -> bool:
        """Commit, or ``False`` when a rival's write landed first (plan again)."""
        try:
            self.commit(plan, checks)
        except ConcurrentUpdateError:
            return False
        return True

    def _rollback_target(
        self,
        timeframe: str,
        wanted: int | None,
        champion: ModelVersion | None,
        former: list[int],
    ) -> ModelVersion:
        if wanted is not None:
            return self._existing(timeframe, wanted)
        current = _number(champion)
        for number in former:
            if number == current:
                continue
            candidate = self.store.get(timeframe, number)
            if candidate and candidate.stage is Stage.ARCHIVED:
                return candidate
        raise TransitionError(f"{timeframe} has no archived former champion to roll back to")

    def _former_champions(self, timeframe: str) -> list[int]:
        """Versions that have been champion, most recently crowned first, each once."""
        crowned = [
            change.version
            for change in reversed(self.store.history(timeframe))
            if change.to_stage is Stage.CHAMPION
        ]
        return list(dict.fromkeys(crowned))

    def _existing(self, timeframe: str, number: int) -> ModelVersion:
        found = self.store.get(timeframe, number)
        if found is None:
            raise NotFoundError(f"{self.options.model_name(timeframe)} has no version {number}")
        return found

    def _actor(self, actor: str | None) -> str:
        return self.actor if actor is None else validation.actor(actor)

    # -- reads --------------------------------------------------------------------------

    def get(self, timeframe: str, version: int | str) -> ModelVersion:
        """One version; ``NotFoundError`` if it does not exist."""
        return self._existing(validation.timeframe(timeframe), validation.version(version))

    def list(
        self, timeframe: str | None = None, stage: Stage | str | None = None
    ) -> builtins.list[ModelVersion]:
        """Versions, optionally of one timeframe and one stage, ordered by version."""
        return self.store.versions(
            None if timeframe is None else validation.timeframe(timeframe),
            None if stage is None else Stage.parse(stage),
        )

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

    def status(self) -> builtins.list[TimeframeStatus]:
        """Per timeframe: the champion version (or ``None``) and the count per stage."""
        by_timeframe: dict[str, builtins.list[ModelVersion]] = {}
        for version in self.store.versions():
            by_timeframe.setdefault(version.timeframe, []).append(version)
        return [_status_of(timeframe, found) for timeframe, found in by_timeframe.items()]

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


def _lifecycle_check(
    current: ModelVersion, target: Stage, *, rollback: bool = False, was_champion: bool = False
) -> Check:
    """The lifecycle's verdict on one move, as a check for the write path."""

    def check(_plan: Plan) -> None:
        lifecycle.check_move(
            current.stage,
            target,
            rollback=rollback,
            was_champion=was_champion,
            subject=_subject(current),
        )

    return check


def _status_of(timeframe: str, versions: list[ModelVersion]) -> TimeframeStatus:
    counts = dict.fromkeys(Stage, 0)
    for version in versions:
        counts[version.stage] += 1
    champion = next((v.version for v in versions if v.stage is Stage.CHAMPION), None)
    return TimeframeStatus(timeframe, versions[0].model_name, champion, counts)


def _attempts() -> Iterator[int]:
    for attempt in range(ATTEMPTS):
        if attempt:  # jitter, so that writers who lost together do not collide again
            time.sleep(random.uniform(0, 0.005 * attempt))
        yield attempt


def _number(version: ModelVersion | None) -> int | None:
    return None if version is None else version.version


def _subject(version: ModelVersion) -> str:
    return f"version {version.version} of {version.model_name}"


def _gave_up(timeframe: str) -> ConcurrentUpdateError:
    return ConcurrentUpdateError(
        f"{timeframe} kept changing under concurrent writers; gave up after {ATTEMPTS} attempts"
    )

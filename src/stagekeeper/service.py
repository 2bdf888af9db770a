"""The use cases: register, promote, list, history, rollback and status.

The service enforces the invariants; the CLI, the compat layer and the examples all call
it. It reads through a ``ModelStore``, plans changes as values, asks the lifecycle
whether each move is allowed, and hands the plan to the store to apply atomically.
Presentation never enters here: no printing, no formatting. Imports the domain and the
ports, never a backend.
"""

from __future__ import annotations

import builtins
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime
from types import TracebackType

from stagekeeper import lifecycle, maintenance, validation
from stagekeeper.errors import ConcurrentUpdateError, NotFoundError, TransitionError
from stagekeeper.model import (
    Finding,
    ModelVersion,
    Plan,
    Registration,
    StageChange,
    TimeframeStatus,
)
from stagekeeper.ports import ModelStore, StoreOptions
from stagekeeper.stages import Cause, Stage
from stagekeeper.stamp import Stamp, new_operation_id, utc_now

Clock = Callable[[], datetime]
# A plan that loses a race is re-planned from a fresh read, up to this many times in all.
# Each loss means a rival's write landed, so n concurrent writers need at most n attempts.
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
    ) -> None:
        self.store = store
        self.options = options or StoreOptions()
        self.actor = validation.actor(actor)
        self._clock = clock

    def model_name(self, timeframe: str) -> str:
        """The registered model's name for ``timeframe``, from the configured template."""
        return self.options.model_name(validation.timeframe(timeframe))

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
        registration = Registration(
            timeframe=validation.timeframe(timeframe),
            model_name=self.model_name(timeframe),
            version=validation.optional_version(version),
            source=validation.source(source),
            reason=validation.reason(reason),
            actor=self._actor(actor),
            at=self._clock(),
            operation_id=new_operation_id(),
        )
        return self.store.register(registration)

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
            lifecycle.check_move(current.stage, target, subject=_subject(current))
            stamp = self._stamp(reason, actor)
            changes = []
            champion = self.store.champion(timeframe) if target is Stage.CHAMPION else None
            if champion is not None:
                changes.append(stamp.change(champion, Stage.ARCHIVED, Cause.AUTO_DEMOTION))
            changes.append(stamp.change(current, target, Cause.PROMOTION))
            if self._applied(Plan(timeframe, _number(champion), tuple(changes))):
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
            lifecycle.check_move(
                target.stage,
                Stage.CHAMPION,
                rollback=True,
                was_champion=target.version in former,
                subject=_subject(target),
            )
            stamp = self._stamp(reason, actor)
            changes = []
            if champion is not None:
                changes.append(stamp.change(champion, Stage.ARCHIVED, Cause.ROLLBACK))
            changes.append(stamp.change(target, Stage.CHAMPION, Cause.ROLLBACK))
            if self._applied(Plan(timeframe, _number(champion), tuple(changes))):
                return changes
        raise _gave_up(timeframe)

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

    def _applied(self, plan: Plan) -> bool:
        try:
            self.store.apply(plan)
        except ConcurrentUpdateError:
            return False
        return True

    def _existing(self, timeframe: str, number: int) -> ModelVersion:
        found = self.store.get(timeframe, number)
        if found is None:
            raise NotFoundError(f"{self.options.model_name(timeframe)} has no version {number}")
        return found

    # -- reads --------------------------------------------------------------------------

    def get(self, timeframe: str, version: int | str) -> ModelVersion:
        """One version; ``NotFoundError`` if it does not exist."""
        return self._existing(validation.timeframe(timeframe), validation.version(version))

    def list(
        self, timeframe: str | None = None, stage: Stage | str | None = None
    ) -> list[ModelVersion]:
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
        by_timeframe: dict[str, list[ModelVersion]] = {}
        for version in self.store.versions():
            by_timeframe.setdefault(version.timeframe, []).append(version)
        return [_status_of(timeframe, found) for timeframe, found in by_timeframe.items()]

    def migrate_legacy_stages(
        self,
        timeframe: str | None = None,
        *,
        winner: int | str | None = None,
        dry_run: bool = False,
        reason: str | None = None,
        actor: str | None = None,
    ) -> builtins.list[StageChange]:
        """Map MLflow's deprecated stages into stagekeeper's; see ``stagekeeper.legacy``.

        Returns the changes made, or with ``dry_run`` the changes that would be made.
        Every timeframe is planned before any is changed, so a refusal changes nothing.
        """
        return maintenance.migrate(
            self.store,
            None if timeframe is None else validation.timeframe(timeframe),
            validation.optional_version(winner),
            self._stamp(validation.reason(reason), actor),
            dry_run=dry_run,
        )

    # -- health -------------------------------------------------------------------------

    def doctor(self, timeframe: str | None = None, *, fix: bool = False) -> builtins.list[Finding]:
        """Report where the store disagrees with itself; with ``fix``, repair what can be.

        See ``stagekeeper.maintenance.examine``.
        """
        return maintenance.examine(
            self.store,
            None if timeframe is None else validation.timeframe(timeframe),
            self._stamp(maintenance.DRIFT_REASON, None),
            fix=fix,
        )

    def _stamp(self, reason: str | None, actor: str | None) -> Stamp:
        return Stamp(reason, self._actor(actor), self._clock(), new_operation_id())

    def _actor(self, actor: str | None) -> str:
        return self.actor if actor is None else validation.actor(actor)

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


def _status_of(timeframe: str, versions: list[ModelVersion]) -> TimeframeStatus:
    counts = Counter(version.stage for version in versions)
    champion = next((v.version for v in versions if v.stage is Stage.CHAMPION), None)
    return TimeframeStatus(
        timeframe=timeframe,
        model_name=versions[0].model_name,
        champion=champion,
        counts={stage: counts.get(stage, 0) for stage in Stage},
    )


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

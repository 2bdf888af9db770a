"""Reading the store: versions and the history, and a timeframe view over plain reads.

``check`` asks the same gates a promotion asks, but takes no lock: it answers "would this
be allowed now?", and a promotion asks again under the lock. The memory store plans through
it too, under its own lock, where its plain reads are the locked reads. Imports the domain
and the ports.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from typing import Any

from stagekeeper.domain import validation
from stagekeeper.domain.approvals import ApprovalRequest
from stagekeeper.domain.errors import NotFoundError
from stagekeeper.domain.model import (
    Metrics,
    ModelVersion,
    StageChange,
    former_champions,
    previous_champion,
)
from stagekeeper.domain.stages import Stage
from stagekeeper.service.ports import ModelStore, StoreOptions


class StoreView:
    """A ``TimeframeView`` answered by the store's own reads, each made once."""

    def __init__(self, store: ModelStore, timeframe: str) -> None:
        self.store, self.timeframe = store, timeframe

    def get(self, version: int) -> ModelVersion | None:
        return self.store.get(self.timeframe, version)

    def champion(self) -> ModelVersion | None:
        return self.store.champion(self.timeframe)

    def versions(self) -> list[ModelVersion]:
        return self.store.versions(self.timeframe)

    @cached_property
    def _history(self) -> list[StageChange]:
        return self.store.history(self.timeframe)

    def history(self) -> list[StageChange]:
        return self._history

    def previous_champion(self, current: int | None) -> ModelVersion | None:
        return previous_champion(self._history, self.get, current)

    def was_champion(self, version: int) -> bool:
        return version in former_champions(self._history)

    def metrics(self, version: int) -> Metrics:
        return self.store.metrics(self.timeframe, version)

    def requests(self) -> list[ApprovalRequest]:
        return self.store.requests(self.timeframe)

    def policies(self) -> dict[str | None, Mapping[str, Any]]:
        return self.store.policies()


def get(
    store: ModelStore, options: StoreOptions, timeframe: str, version: int | str
) -> ModelVersion:
    """See ``Registry.get``."""
    timeframe = validation.timeframe(timeframe)
    number = validation.version(version)
    found = store.get(timeframe, number)
    if found is None:
        raise NotFoundError(f"{options.model_name(timeframe)} has no version {number}")
    return found


def versions(
    store: ModelStore, timeframe: str | None = None, stage: Stage | str | None = None
) -> list[ModelVersion]:
    """See ``Registry.list``; a timeframe named in lower case that the store has in upper
    case (``1h`` for ``1H``) is ``NotFoundError`` saying which, while one the store lacks is
    simply empty (an empty answer for ``1H`` reads nothing more)."""
    named = None if timeframe is None else validation.timeframe(timeframe)
    found = store.versions(named, None if stage is None else Stage.parse(stage))
    if named is not None and not found and named != named.upper():  # 1h: status is read
        known = [status.timeframe for status in store.status()]
        if named not in known and _near(named, known):
            known_timeframe(store, named)
    return found


def history(
    store: ModelStore,
    timeframe: str | None = None,
    version: int | str | None = None,
    limit: int | str | None = None,
) -> list[StageChange]:
    """See ``Registry.history``; a timeframe the store does not have is ``NotFoundError``."""
    found = store.history(
        None if timeframe is None else validation.timeframe(timeframe),
        validation.optional_version(version),
        validation.limit(limit),
    )
    if timeframe is not None and not found:
        known_timeframe(store, validation.timeframe(timeframe))
    return found


def known_timeframe(store: ModelStore, timeframe: str) -> str:
    """``timeframe`` if the store has it; else ``NotFoundError``, with the one it may mean."""
    known = [status.timeframe for status in store.status()]
    if timeframe in known:
        return timeframe
    near = _near(timeframe, known)
    hint = f"did you mean {near}?" if near else "stagekeeper status lists the timeframes"
    raise NotFoundError(f"this store has no timeframe {timeframe}", hint=hint)


def _near(timeframe: str, known: list[str]) -> str | None:
    """The known timeframe ``timeframe`` differs from in case alone, if any."""
    return next((name for name in known if name.casefold() == timeframe.casefold()), None)

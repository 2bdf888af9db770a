"""Domain values: model versions, stage changes, plans and status.

Entities are frozen dataclasses; nothing here does I/O. Imports only the standard
library and the other domain modules.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from stagekeeper.stages import Cause, Stage


@dataclass(frozen=True)
class ModelVersion:
    """One version of a timeframe's registered model, as it stands now."""

    timeframe: str
    model_name: str
    version: int
    stage: Stage
    created_at: datetime
    updated_at: datetime
    source: str | None = None


@dataclass(frozen=True)
class StageChange:
    """One entry of the append-only history.

    ``from_stage`` is ``None`` for a registration. Changes made by one operation (a
    promotion and the auto-demotion it caused) share ``operation_id``.
    """

    operation_id: str
    timeframe: str
    model_name: str
    version: int
    from_stage: Stage | None
    to_stage: Stage
    reason: str | None
    actor: str
    at: datetime
    cause: Cause

    def as_record(self) -> dict[str, object]:
        """Plain values, field by field: stages and cause as their names, ``at`` as is."""
        return {
            "operation_id": self.operation_id,
            "timeframe": self.timeframe,
            "model_name": self.model_name,
            "version": self.version,
            "from_stage": None if self.from_stage is None else self.from_stage.value,
            "to_stage": self.to_stage.value,
            "reason": self.reason,
            "actor": self.actor,
            "at": self.at,
            "cause": self.cause.value,
        }


@dataclass(frozen=True)
class Registration:
    """A request to add a version; ``version=None`` asks the store for the next number."""

    timeframe: str
    model_name: str
    version: int | None
    source: str | None
    reason: str | None
    actor: str
    at: datetime
    operation_id: str

    def change_for(self, version: int) -> StageChange:
        """The history entry that records this registration once the number is known."""
        return StageChange(
            operation_id=self.operation_id,
            timeframe=self.timeframe,
            model_name=self.model_name,
            version=version,
            from_stage=None,
            to_stage=Stage.DEVELOPMENT,
            reason=self.reason,
            actor=self.actor,
            at=self.at,
            cause=Cause.REGISTRATION,
        )


@dataclass(frozen=True)
class Plan:
    """Changes to apply to one timeframe as a single atomic step.

    The plan was computed from a read of the store; a backend applies it only if that
    read still holds: every version is still in its ``from_stage`` and, when the plan
    crowns a champion, the timeframe's champion is still ``champion_before``. Otherwise
    it raises ``ConcurrentUpdateError`` and changes nothing.
    """

    timeframe: str
    champion_before: int | None
    changes: Sequence[StageChange] = field(default_factory=tuple)

    @property
    def crowns_champion(self) -> bool:
        return any(change.to_stage is Stage.CHAMPION for change in self.changes)


@dataclass(frozen=True)
class TimeframeStatus:
    """A timeframe at a glance: its champion and how many versions sit in each stage."""

    timeframe: str
    model_name: str
    champion: int | None
    counts: dict[Stage, int]


@dataclass(frozen=True)
class Finding:
    """A disagreement ``doctor`` found in a store, and what ``--fix`` does about it.

    ``code`` is stable (for ``--json`` and callers); ``subject`` is the backend's own handle
    on the problem (a tag key, a lock name), opaque to everyone else. An empty ``remedy``
    means it cannot be fixed automatically.
    """

    timeframe: str
    version: int | None
    code: str
    message: str
    remedy: str
    subject: str = ""
    fixed: bool = False

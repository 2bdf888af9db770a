"""Domain values: model versions, stage changes, plans and status.

Entities are frozen dataclasses; nothing here does I/O. Imports only the standard
library and the other domain modules.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Protocol, TypeVar

from stagekeeper.domain.approvals import ApprovalRequest
from stagekeeper.domain.errors import ValidationError
from stagekeeper.domain.identity import Identity
from stagekeeper.domain.stages import Cause, Stage
from stagekeeper.domain.validation import MAX_VERSION


class VersionState(Protocol):
    """A version as a write's lock shows it: what a planner decides on. A ``ModelVersion``
    is one; a store may give no more than this where ``updated_at`` would cost a request
    (MLflow: a search of its history). A planner that decides on when a version moved reads
    the history, as the soak gate does."""

    @property
    def timeframe(self) -> str: ...
    @property
    def model_name(self) -> str: ...
    @property
    def version(self) -> int: ...
    @property
    def stage(self) -> Stage: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def source(self) -> str | None: ...


Version = TypeVar("Version", bound=VersionState)


@dataclass(frozen=True, slots=True)
class ModelVersion:
    """One version of a timeframe's registered model, as it stands now."""

    timeframe: str
    model_name: str
    version: int
    stage: Stage
    created_at: datetime
    updated_at: datetime
    source: str | None = None

    def moved(self, stage: Stage, at: datetime) -> ModelVersion:
        """This version moved to ``stage`` at ``at`` (built directly: a store in memory
        moves two versions per promotion, and ``dataclasses.replace`` costs twice this)."""
        return ModelVersion(
            timeframe=self.timeframe,
            model_name=self.model_name,
            version=self.version,
            stage=stage,
            created_at=self.created_at,
            updated_at=at,
            source=self.source,
        )


@dataclass(frozen=True, slots=True)
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
    # What else the operation recorded: the metrics set, or the gates a forced move bypassed.
    detail: str | None = None
    # Who acted, as a system verified it (or the declared actor); None in records older
    # than identities, which read as declared.
    identity: Identity | None = None

    @property
    def who(self) -> Identity:
        """The identity that acted: the recorded one, else the declared actor."""
        return self.identity or Identity.declared(self.actor)

    @property
    def moves(self) -> bool:
        """Whether the change moved the version (a metrics record leaves it where it is)."""
        return self.from_stage is not self.to_stage

    @property
    def crowns(self) -> bool:
        """Whether the change made its version champion."""
        return self.to_stage is Stage.CHAMPION and self.from_stage is not Stage.CHAMPION


Metrics = Mapping[str, float]


@dataclass(frozen=True)
class Registration:
    """A request to add a version; ``version=None`` asks the store for the next number.

    Its time and operation id come from ``stamp`` when a store first reads them (``at``,
    ``operation_id``), which every store does under the timeframe's lock: the
    registration's time is then its commit's, as every other operation's is.
    """

    timeframe: str
    model_name: str
    version: int | None
    source: str | None
    reason: str | None
    actor: str
    stamp: Callable[[], tuple[datetime, str]]
    metrics: Metrics = field(default_factory=dict)
    detail: str | None = None
    identity: Identity | None = None

    @cached_property
    def _stamped(self) -> tuple[datetime, str]:
        return self.stamp()

    @property
    def at(self) -> datetime:
        return self._stamped[0]

    @property
    def operation_id(self) -> str:
        return self._stamped[1]

    def number(self, latest: int | None, model_name: str | None) -> int:
        """The version number to register, given the timeframe's ``latest`` number and the
        ``model_name`` the store keeps for it (``None`` for a new timeframe), under the
        lock. A timeframe's model name is fixed when it is first registered: one written
        under another template would put a name in the history that no listing shows."""
        if model_name is not None and model_name != self.model_name:
            raise ValidationError(
                f"timeframe {self.timeframe}'s model is {model_name!r} in this store, not "
                f"{self.model_name!r}: register with the template it was first registered "
                "with",
                hint="check STAGEKEEPER_MODEL_NAME_TEMPLATE (or model_name_template=)",
            )
        if self.version is not None:
            return self.version
        number = (latest or 0) + 1
        if number > MAX_VERSION:
            raise ValidationError(
                f"timeframe {self.timeframe} has reached version {MAX_VERSION:,}, the "
                "highest number every store can keep"
            )
        return number

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
            detail=self.detail,
            identity=self.identity,
        )


@dataclass(frozen=True)
class Seen:
    """What a store found, under its lock, of the versions a plan touches.

    ``stages`` holds the plan's versions that exist, with their stages; ``champion`` is the
    timeframe's champion, or ``None``.
    """

    stages: Mapping[int, Stage]
    champion: int | None


@dataclass(frozen=True)
class Plan:
    """Changes to one timeframe, committed as a single atomic step.

    The plan was computed from a read of the store; a store commits it only if that read
    still holds (``violation`` says whether it does), and otherwise raises
    ``ConcurrentUpdateError`` and changes nothing.

    A plan that ``records_only`` moves nothing: its versions already stand where its changes
    lead (``doctor`` records a change made outside stagekeeper this way).
    """

    timeframe: str
    champion_before: int | None
    changes: Sequence[StageChange] = field(default_factory=tuple)
    records_only: bool = False
    # Metrics to record on versions, by version number, committed with the changes.
    metrics: Mapping[int, Metrics] = field(default_factory=dict)
    # Approval requests to keep as they are here (new, or with their state moved on).
    requests: Sequence[ApprovalRequest] = field(default_factory=tuple)

    # Plain properties: over a plan's one or two changes, computing again is cheaper than
    # functools.cached_property, which takes a lock on every first read in Python 3.11.
    @property
    def crowns_champion(self) -> bool:
        return any(change.crowns for change in self.changes)

    @property
    def checks_champion(self) -> bool:
        """Whether ``violation`` reads ``Seen.champion``; a store may skip reading it if not."""
        return self.crowns_champion and not self.records_only

    @property
    def versions(self) -> tuple[int, ...]:
        return tuple(dict.fromkeys(change.version for change in self.changes))

    def violation(self, seen: Seen) -> str | None:
        """Why the plan no longer holds against what the store ``seen``, or ``None``.

        The one precondition check: the write path asks it of every plan, against what the
        store's view shows under the lock (``service.checks.check_preconditions``).
        """
        for change in self.changes:
            # A change from nowhere records a version as found: it must stand there already.
            found_as_is = self.records_only or change.from_stage is None
            expected = change.to_stage if found_as_is else change.from_stage
            if seen.stages.get(change.version) is not expected:
                return f"version {change.version} of {self.timeframe} changed meanwhile"
        if self.checks_champion and seen.champion != self.champion_before:
            return f"the champion of {self.timeframe} changed meanwhile"
        return None


@dataclass(frozen=True)
class Committed:
    """An operation that took effect: what the write path publishes, once."""

    operation_id: str
    timeframe: str
    changes: tuple[StageChange, ...]
    version: ModelVersion | None = None  # the new version, for a registration


def metrics_detail(new: Metrics, recorded: Metrics) -> str:
    """A history entry's account of metrics recorded: ``sharpe=1.5 (was 1.42), ...``."""
    return ", ".join(
        f"{name}={value:g}" + (f" (was {recorded[name]:g})" if name in recorded else "")
        for name, value in sorted(new.items())
    )


@dataclass(frozen=True)
class TimeframeStatus:
    """A timeframe at a glance: its champion and how many versions sit in each stage."""

    timeframe: str
    model_name: str
    champion: int | None
    counts: dict[Stage, int]

    @classmethod
    def of(cls, versions: Sequence[ModelVersion]) -> TimeframeStatus:
        """The status of one timeframe's versions (at least one), counted here."""
        counts = dict.fromkeys(Stage, 0)
        for version in versions:
            counts[version.stage] += 1
        champion = next((v.version for v in versions if v.stage is Stage.CHAMPION), None)
        return cls(versions[0].timeframe, versions[0].model_name, champion, counts)


def former_champions(history: Iterable[StageChange]) -> list[int]:
    """Versions that have been champion, most recently crowned first, each once."""
    crowned = [c.version for c in reversed(list(history)) if c.crowns]
    return list(dict.fromkeys(crowned))


def previous_champion(
    history: Iterable[StageChange],
    lookup: Callable[[int], Version | None],
    current: int | None,
) -> Version | None:
    """The archived version most recently crowned, other than ``current``, found from the
    history: for stores that have no query for it."""
    for number in former_champions(history):
        candidate = lookup(number) if number != current else None
        if candidate is not None and candidate.stage is Stage.ARCHIVED:
            return candidate
    return None


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

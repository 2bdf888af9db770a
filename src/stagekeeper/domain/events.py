"""The history read as an event stream: one event per committed operation.

Events are ordered per timeframe, in commit order: every store commits a timeframe's
operations one at a time, under its lock, so a timeframe's history is its commit order.
Across timeframes no store promises an order (two timeframes' writers commit side by side),
so a consumer's place in the stream, its cursor, is a position per timeframe: ``1H:12,4H:3``
means "after the 12th operation of 1H and the 3rd of 4H".

A position also names the operation it stands after (``1H:12@<mark>``, a short digest of its
id), because a timeframe's history can be rewritten under a cursor: on MLflow a model
deleted by hand and registered again starts a history of its own, and ``doctor`` sets
records aside. A number alone would then point past events never delivered. A marked
position resumes after its operation wherever that now stands, or from the timeframe's first
event if it is gone: events may come twice (consumers de-duplicate by id), never not at all.
Pure; imports only the standard library and the domain.
"""

from __future__ import annotations

import hashlib
import heapq
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC
from enum import StrEnum
from typing import Any

from stagekeeper.domain.errors import ValidationError
from stagekeeper.domain.model import StageChange
from stagekeeper.domain.stages import Cause, Stage

FORMAT = "stagekeeper.event/2"  # the JSON format's name and version (schemas/event-v2.json)
_CURSOR_PART = re.compile(r"([A-Za-z0-9_-]{1,32}):([0-9]{1,12})(?:@([0-9a-f]{12}))?")


class EventType(StrEnum):
    REGISTERED = "registered"
    PROMOTED = "promoted"
    CHAMPION_CHANGED = "champion_changed"
    ROLLED_BACK = "rolled_back"
    REPAIRED = "repaired"
    MIGRATED = "migrated"
    METRICS_RECORDED = "metrics_recorded"
    APPROVAL_REQUESTED = "approval_requested"
    APPROVED = "approved"
    REQUEST_REJECTED = "request_rejected"
    REQUEST_EXPIRED = "request_expired"


_RECORD_TYPES = {
    Cause.REGISTRATION: EventType.REGISTERED,
    Cause.METRICS: EventType.METRICS_RECORDED,
    Cause.REQUEST: EventType.APPROVAL_REQUESTED,
    Cause.APPROVAL: EventType.APPROVED,
    Cause.REJECTION: EventType.REQUEST_REJECTED,
    Cause.EXPIRY: EventType.REQUEST_EXPIRED,
}


@dataclass(frozen=True)
class Event:
    """One committed operation. ``sequence`` is its place in its timeframe's stream (1 for
    the first operation); ``changes`` are all its history entries, the move last."""

    operation_id: str
    timeframe: str
    model_name: str
    sequence: int
    type: EventType
    changes: tuple[StageChange, ...]
    # Filled in for a reader by the service: where to resume after this event, and the new
    # champion's model (its recorded source, and a models:/ URI where the store serves one).
    cursor: str = ""
    champion_source: str | None = None
    champion_uri: str | None = None

    @property
    def main(self) -> StageChange:
        """The change the event is about: the move, which comes after any demotion."""
        return self.changes[-1]

    @property
    def previous_champion(self) -> int | None:
        return next(
            (c.version for c in self.changes if c.from_stage is Stage.CHAMPION and c.moves), None
        )

    @property
    def new_champion(self) -> int | None:
        return next((c.version for c in self.changes if c.moves and c.crowns), None)

    @property
    def changes_champion(self) -> bool:
        return self.previous_champion is not None or self.new_champion is not None


def events(history: Iterable[StageChange]) -> list[Event]:
    """The operations of ``history`` (in commit order), each numbered within its timeframe.
    An operation's changes are contiguous in its timeframe's history."""
    grouped: list[list[StageChange]] = []
    last: dict[str, list[StageChange]] = {}
    for change in history:
        group = last.get(change.timeframe)
        if group is not None and group[0].operation_id == change.operation_id:
            group.append(change)
            continue
        last[change.timeframe] = [change]
        grouped.append(last[change.timeframe])
    counted: dict[str, int] = {}
    found = []
    for group in grouped:
        first = group[0]
        counted[first.timeframe] = counted.get(first.timeframe, 0) + 1
        found.append(
            Event(
                first.operation_id,
                first.timeframe,
                first.model_name,
                counted[first.timeframe],
                _type_of(group),
                tuple(group),
            )
        )
    return found


def _type_of(changes: list[StageChange]) -> EventType:
    main = changes[-1]
    moves = [change for change in changes if change.moves and change.from_stage is not None]
    if not moves:
        return _RECORD_TYPES.get(main.cause, EventType.REPAIRED)
    if main.cause is Cause.REPAIR:
        return EventType.REPAIRED
    if main.cause is Cause.MIGRATION:
        return EventType.MIGRATED
    if any(c.crowns or c.from_stage is Stage.CHAMPION for c in moves):
        return EventType.ROLLED_BACK if main.cause is Cause.ROLLBACK else EventType.CHAMPION_CHANGED
    return EventType.PROMOTED


@dataclass(frozen=True)
class Position:
    """Where a consumer stands in one timeframe's stream: after its ``sequence``-th event,
    which was the operation ``mark`` names (``None`` in a cursor written before marks)."""

    sequence: int
    mark: str | None = None

    @classmethod
    def at(cls, event: Event) -> Position:
        return cls(event.sequence, mark_of(event.operation_id))


def mark_of(operation_id: str) -> str:
    """A short digest of an operation id: the ids are any text a store kept, a cursor's
    parts may hold only hex."""
    return hashlib.blake2b(operation_id.encode(), digest_size=6).hexdigest()


def parse_cursor(text: str | None) -> dict[str, Position]:
    """A cursor's positions by timeframe; ``None`` or ``""`` is the start of the stream."""
    if not text:
        return {}
    positions = {}
    for part in text.split(","):
        match = _CURSOR_PART.fullmatch(part.strip())
        if match is None:
            raise ValidationError(
                f"invalid cursor {text[:60]!r}: expected TIMEFRAME:N pairs joined by commas, "
                "as an event's cursor field gives them",
                hint="e.g. 1H:12,4H:3; leave --since out to start from the beginning",
            )
        positions[match[1]] = Position(int(match[2]), match[3])
    return positions


def format_cursor(positions: Mapping[str, Position]) -> str:
    return ",".join(
        f"{timeframe}:{p.sequence}" + (f"@{p.mark}" if p.mark else "")
        for timeframe, p in sorted(positions.items())
    )


def after(found: Iterable[Event], positions: Mapping[str, Position]) -> list[Event]:
    """The events past ``positions``: each timeframe's in its own order, the timeframes
    merged by time (a merge never reorders one timeframe's events, even where its clock
    readings disagree with its commit order)."""
    streams: dict[str, list[Event]] = {}
    for event in found:
        streams.setdefault(event.timeframe, []).append(event)
    ordered = [_past(streams[timeframe], positions.get(timeframe)) for timeframe in sorted(streams)]
    return list(heapq.merge(*ordered, key=lambda event: event.main.at))


def _past(stream: list[Event], position: Position | None) -> list[Event]:
    """The events of one timeframe's whole stream (numbered from 1) after ``position``."""
    if position is None:
        return stream
    at = position.sequence
    if position.mark is None or (at and at <= len(stream) and _marked(stream[at - 1], position)):
        return stream[at:]
    # Rewritten under the cursor: after its operation where it stands now, if it still does.
    for index, event in enumerate(stream):
        if _marked(event, position):
            return stream[index + 1 :]
    return stream


def _marked(event: Event, position: Position) -> bool:
    return mark_of(event.operation_id) == position.mark


def document(event: Event) -> dict[str, Any]:
    """The event in its published JSON form, described by ``schemas/event-v2.json``."""
    main = event.main
    found: dict[str, Any] = {
        "format": FORMAT,
        "id": event.operation_id,
        "sequence": event.sequence,
        "cursor": event.cursor,
        "type": event.type.value,
        "timeframe": event.timeframe,
        "model_name": event.model_name,
        "version": main.version,
        "from_stage": None if main.from_stage is None else main.from_stage.value,
        "to_stage": main.to_stage.value,
        "cause": main.cause.value,
        "actor": main.actor,
        "identity": {
            "name": main.who.name,
            "verified": main.who.verified,
            "source": main.who.source,
        },
        "reason": main.reason,
        "detail": main.detail,
        "at": main.at.astimezone(UTC).isoformat(),
        "changes": [
            {
                "version": c.version,
                "from_stage": None if c.from_stage is None else c.from_stage.value,
                "to_stage": c.to_stage.value,
                "cause": c.cause.value,
                "detail": c.detail,
            }
            for c in event.changes
        ],
    }
    if event.changes_champion:
        found["champion"] = {
            "previous": event.previous_champion,
            "new": event.new_champion,
            "source": event.champion_source,
            "uri": event.champion_uri,
        }
    return found

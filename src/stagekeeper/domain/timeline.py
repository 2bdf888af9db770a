"""The champion timeline: who was champion of each timeframe, from when to when.

A pure fold of the history (``reigns``), so it works the same on every store from
``history()`` alone. Imports only the standard library and the domain.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from stagekeeper.domain.identity import Identity
from stagekeeper.domain.model import StageChange
from stagekeeper.domain.stages import Cause


@dataclass(frozen=True)
class Reign:
    """One version's time as its timeframe's champion.

    ``began`` is how it was crowned (``promotion``, ``forced``, ``rollback``, ``repair``,
    ``migration``); ``ended`` how it lost the title (``auto-demotion``, ``rollback``,
    ``archived`` by a promotion to archived, ``repair``, ``migration``), ``None`` while it
    still reigns; ``ended_by`` the actor of the change that ended it; ``successor`` the
    version crowned in the same operation, if any.
    """

    timeframe: str
    model_name: str
    version: int
    start: datetime
    end: datetime | None
    began: str
    ended: str | None = None
    successor: int | None = None
    ended_by: str | None = None
    ended_identity: Identity | None = None  # who ended it, as a system verified it

    @property
    def reigning(self) -> bool:
        return self.end is None


def reigns(history: Iterable[StageChange]) -> list[Reign]:
    """Every reign in the history, in the order they began. ``history`` is in commit order
    (as every store returns it); records that move nothing (metrics, approvals) are not
    reigns' business."""
    reigning: dict[str, Reign] = {}
    done: list[Reign] = []
    dethroned_in: dict[tuple[str, str], int] = {}  # (operation, timeframe) -> index in done
    for change in history:
        if not change.moves:
            continue
        current = reigning.get(change.timeframe)
        if change.crowns:
            if current is not None:  # a crowning with no demotion before it: a repair
                done.append(_ended(current, change, change.cause.value))
            key = (change.operation_id, change.timeframe)
            if key in dethroned_in:
                index = dethroned_in.pop(key)
                done[index] = dataclasses.replace(done[index], successor=change.version)
            reigning[change.timeframe] = Reign(
                change.timeframe,
                change.model_name,
                change.version,
                change.at,
                None,
                change.cause.value,
            )
        elif current is not None and current.version == change.version:  # dethroned
            del reigning[change.timeframe]
            dethroned_in[(change.operation_id, change.timeframe)] = len(done)
            done.append(_ended(current, change, _end_of(change)))
    return sorted([*done, *reigning.values()], key=lambda r: (r.start, r.timeframe))


def _end_of(change: StageChange) -> str:
    if change.cause in (Cause.PROMOTION, Cause.FORCED):
        return "archived"
    return change.cause.value


def _ended(reign: Reign, change: StageChange, how: str) -> Reign:
    return dataclasses.replace(
        reign, end=change.at, ended=how, ended_by=change.actor, ended_identity=change.who
    )

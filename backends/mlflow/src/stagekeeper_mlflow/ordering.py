"""How far a history record's writes have landed, as pure functions (no MLflow import).

A write that does not take the lock (decision record 18) plans only on a registry where the
newest record's writes have all landed: else it might plan from a state that is about to
change, or its own writes might be overwritten by the last of them. What the registry shows
against a record is one of three things: its writes landed (``DONE``); some still to land,
each place at the record's before or after (``UNDER_WAY``: its writer is writing, or died
doing it); or something else, a change made by hand since, which the registry's state wins
over, as it does for every writer (``DRIFT``; ``doctor`` records it). The alias lands
before the stage tags (``sequence.apply``), so an alias back where it was beside a tag
moved on is a change by hand: the champion moved back in MLflow's UI.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum

from stagekeeper.domain.stages import Stage
from stagekeeper_mlflow import mapping
from stagekeeper_mlflow.mapping import STAGE_TAG


class GaveWay(Exception):
    """A write without the lock met what needs it (a record under way, a repair, a writer
    waiting, a number taken first): it wrote nothing that counts, and takes the lock."""


Place = tuple[str | None, str | None, str | None]  # what the registry shows: now, before, after


class Progress(Enum):
    DONE = "done"
    UNDER_WAY = "under way"
    DRIFT = "drift"


def moved_versions(record: str) -> set[int]:
    """The versions whose stage tags a record's writes set."""
    if not mapping.replays(record):
        return set()
    return {c.version for c in mapping.decode_history("", "", record) if c.moves}


def progress(
    record: str, alias: str | None, tags: Mapping[int, Mapping[str, str] | None]
) -> Progress:
    """How far ``record``'s writes have landed, given the champion alias and the tags of
    the versions it moves (``None``: a version that does not exist)."""
    if not mapping.replays(record):
        return Progress.DONE  # a record of changes already made writes nothing after it
    moves = [c for c in mapping.decode_history("", "", record) if c.moves]
    places: list[Place] = []
    crowned = [c.version for c in moves if c.crowns]
    dethroned = [c.version for c in moves if c.from_stage is Stage.CHAMPION]
    if crowned or dethroned:
        before = str(dethroned[0]) if dethroned else None
        places.append((alias, before, str(crowned[0]) if crowned else None))
    for change in moves:
        found = tags.get(change.version)
        if found is None:
            return Progress.DRIFT  # deleted by hand
        now = found.get(STAGE_TAG) or "development"
        before = change.from_stage.value if change.from_stage is not None else "development"
        places.append((now, before, change.to_stage.value))
    if all(now == after for now, _, after in places):
        return Progress.DONE
    if not all(now in (before, after) for now, before, after in places):
        return Progress.DRIFT
    if (crowned or dethroned) and _back(places[0]) and any(_on(p) for p in places[1:]):
        return Progress.DRIFT  # the alias moved back by hand after the tags landed
    return Progress.UNDER_WAY


def _back(place: Place) -> bool:
    now, before, after = place
    return now == before != after


def _on(place: Place) -> bool:
    now, before, after = place
    return now == after != before

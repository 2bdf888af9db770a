"""The event stream read from the history, followed as it grows, and the champions'
reigns folded from it: what ``events``, ``events --follow``, ``timeline`` and the sinks
share. Imports the domain and the ports.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator
from datetime import datetime

from stagekeeper.domain import events as stream
from stagekeeper.domain import validation
from stagekeeper.domain.events import Event
from stagekeeper.domain.timeline import Reign, reigns
from stagekeeper.service.ports import SERVES_MODELS_URIS, ChangeNotifying, VersionStore


def events(
    store: VersionStore, timeframe: str | None = None, since: str | None = None
) -> list[Event]:
    """See ``Registry.events``."""
    positions = stream.parse_cursor(since)
    history = store.history(None if timeframe is None else validation.timeframe(timeframe))
    found = stream.after(stream.events(history), positions)
    return [_published(store, event, positions) for event in found]


def follow(
    store: VersionStore,
    timeframe: str | None = None,
    since: str | None = None,
    *,
    interval: float = 1.0,
    stopped: Callable[[], bool] = lambda: False,
) -> Iterator[Event]:
    """Every event after ``since``, then each new one as it is committed (by any process),
    until ``stopped``: looking again when the store says the history grew, or every
    ``interval`` seconds."""
    cursor = since
    while True:
        for event in events(store, timeframe, cursor):
            yield event
            cursor = event.cursor
        if stopped():
            return
        wait_for_changes(store, interval)


def latest(store: VersionStore) -> str:
    """A mark of the newest committed operation (its id; empty for an empty store): one
    indexed read, for a page that only needs to know that something changed since."""
    newest = store.history(None, None, 1)
    return newest[-1].operation_id if newest else ""


def wait_for_changes(store: VersionStore, timeout: float) -> None:
    """See ``Registry.wait_for_changes``."""
    if isinstance(store, ChangeNotifying):
        store.wait_for_changes(timeout)
    else:
        time.sleep(timeout)


def timeline(
    store: VersionStore, timeframe: str | None = None, since: datetime | None = None
) -> list[Reign]:
    """The champions' reigns, in the order they began; with ``since``, only those that
    lasted past it (the one reigning now always does)."""
    found = reigns(store.history(None if timeframe is None else validation.timeframe(timeframe)))
    return [r for r in found if since is None or r.end is None or r.end >= since]


def _published(store: VersionStore, event: Event, positions: dict[str, stream.Position]) -> Event:
    """The event with its cursor (``positions`` move on) and its new champion's model."""
    positions[event.timeframe] = stream.Position.at(event)
    source = uri = None
    if event.new_champion is not None:
        found = store.get(event.timeframe, event.new_champion)
        source = None if found is None else found.source
        if SERVES_MODELS_URIS in store.capabilities:
            uri = f"models:/{event.model_name}@champion"
    return dataclasses.replace(
        event, cursor=stream.format_cursor(positions), champion_source=source, champion_uri=uri
    )

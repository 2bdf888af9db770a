"""Delivering the event stream to sinks, at least once, in order, and never in a writer's way.

A worker (``stagekeeper events deliver``) reads the stream from each sink's durable cursor,
kept in the store, hands each event to the sink, and moves the cursor on only once the sink
took it. A worker killed between the two re-delivers that one event on its next start: a
consumer de-duplicates by the event's ``id``. A sink that keeps failing is retried on the
next round, from where it stopped. Writers never wait for a sink: delivery reads the
history after the fact. Imports the domain and the service.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from stagekeeper.domain.errors import StagekeeperError
from stagekeeper.domain.events import Event, document
from stagekeeper.service.events import events, wait_for_changes
from stagekeeper.service.ports import CursorStore, VersionStore


class EventStore(VersionStore, CursorStore, Protocol):
    """What delivery needs of a store: the history to read events from, and the cursors."""


Sink = Callable[[Mapping[str, Any]], None]
"""Takes one event (its JSON form); raises ``DeliveryError`` if it could not."""


class DeliveryError(StagekeeperError):
    """A sink did not take an event, after its own retries."""


@dataclass
class Round:
    """What one pass over the sinks did."""

    delivered: dict[str, int]
    failures: dict[str, str]


def deliver_once(store: EventStore, sinks: Mapping[str, Sink]) -> Round:
    """Bring every sink up to date with the stream, as far as it takes events."""
    delivered: dict[str, int] = {}
    failures: dict[str, str] = {}
    for name, sink in sinks.items():
        delivered[name] = 0
        for event in events(store, since=store.delivered(name)):
            try:
                sink(document(event))
            except DeliveryError as exc:
                failures[name] = exc.message
                break
            store.mark_delivered(name, event.cursor)
            delivered[name] += 1
    return Round(delivered, failures)


def deliver(
    store: EventStore,
    sinks: Mapping[str, Sink],
    *,
    follow: bool,
    interval: float,
    report: Callable[[Round], None],
    sleep: Callable[[float], object] | None = None,
    stopped: Callable[[], bool] = lambda: False,
) -> Round:
    """Deliver until caught up, or, with ``follow``, until ``stopped``: looking again when
    the store says the history grew (PostgreSQL), or every ``interval`` seconds."""
    wait = (lambda seconds: wait_for_changes(store, seconds)) if sleep is None else sleep
    while True:
        done = deliver_once(store, sinks)
        report(done)
        if not follow or stopped():
            return done
        wait(interval)


class Subscription:
    """The stream followed in a thread of this process: ``callback`` gets every event after
    ``since``, in order, as it is committed (by this process or any other), until ``stop``.
    For tests, notebooks and the memory store; a deployer wants a sink and the worker."""

    def __init__(
        self,
        store: EventStore,
        callback: Callable[[Event], None],
        *,
        since: str | None = None,
        interval: float = 0.1,
    ) -> None:
        self.cursor = since
        self._stopped = threading.Event()
        self._store, self._callback, self._interval = store, callback, interval
        self._thread = threading.Thread(target=self._run, name="stagekeeper-events", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stopped.is_set():
            for event in events(self._store, since=self.cursor):
                self._callback(event)
                self.cursor = event.cursor
            self._stopped.wait(self._interval)

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join()

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

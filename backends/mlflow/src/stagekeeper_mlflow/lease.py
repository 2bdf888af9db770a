"""A held MLflow lock, as its holder sees it (``Lease``: the checks before each write, the
heartbeat, the hand-off to a waiter) and as others find it (``HeldLock``, ``Waiter``).
See ``lock`` for how the lock is taken, fenced and handed on. Imports the domain and the
MLflow store's connection and mapping.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from mlflow.entities.model_registry import RegisteredModel
from mlflow.exceptions import MlflowException

from stagekeeper.domain.errors import LockLost
from stagekeeper_mlflow.connection import RegistryClient, error_code
from stagekeeper_mlflow.mapping import (
    FINISHING_TAG,
    HEARTBEAT_TAG,
    LOCK_PREFIX,
    OWNER_TAG,
    WAITER_PREFIX,
)

# A waiter this close to giving up is not handed the lock: it could be gone when it lands.
HANDOFF_MARGIN = 2.0  # seconds


@dataclass(frozen=True)
class HeldLock:
    """A lock found in the registry: whose it is, when it was last alive (ms: the server's
    creation time, or the holder's last heartbeat), and the writers whose operation its
    holder was finishing."""

    name: str
    created_ms: int
    owner: str = ""
    alive_ms: int = 0
    finishing: tuple[str, ...] = ()

    @property
    def writers(self) -> tuple[str, ...]:
        """The tokens whose records a writer taking this lock over looks for."""
        return tuple(token for token in (self.owner, *self.finishing) if token)

    def age_seconds(self) -> float:
        return time.time() - max(self.created_ms, self.alive_ms) / 1000


@dataclass(frozen=True, order=True)
class Waiter:
    """A writer waiting for the lock, as announced on the model; they sort by arrival."""

    arrived_ms: int
    token: str
    gives_up_ms: int

    @property
    def tag(self) -> tuple[str, str]:
        return f"{WAITER_PREFIX}{self.token}", f"{self.arrived_ms} {self.gives_up_ms}"

    def still_waiting(self) -> bool:
        return self.gives_up_ms / 1000 > time.time() + HANDOFF_MARGIN

    def gone(self) -> bool:
        """Past giving up by more than the margin: its announcement outlived it (killed)."""
        return self.gives_up_ms / 1000 < time.time() - HANDOFF_MARGIN


def waiters_in(tags: Mapping[str, str]) -> list[Waiter]:
    """The writers announced in a model's tags, longest waiting first."""
    found = []
    for key, value in tags.items():
        arrived, _, gives_up = value.partition(" ")
        if key.startswith(WAITER_PREFIX) and arrived.isdigit() and gives_up.isdigit():
            found.append(Waiter(int(arrived), key.removeprefix(WAITER_PREFIX), int(gives_up)))
    return sorted(found)


class Lease:
    """A lock this writer holds: its token, the checks before each write, its heartbeat,
    and the dead holders it took the lock over from (whose operation it finishes first)."""

    def __init__(
        self,
        client: RegistryClient,
        name: str,
        token: str,
        taken_from: tuple[HeldLock, ...] = (),
        trust_seconds: float = 0.0,
    ) -> None:
        self.client, self.name, self.token = client, name, token
        # The expired locks this writer broke to get in: their holders may be frozen, not dead.
        self.taken_from = taken_from
        self.trust_seconds = trust_seconds
        self.trusted_until = time.monotonic() + trust_seconds
        # The writers waiting, as seen on the model (``hand_on_to``): the lock goes to the
        # first still waiting when this writer is done; with none, it is deleted.
        self.waiting: list[Waiter] = []
        self._stop = threading.Event()

    def hand_on_to(self, model_tags: Mapping[str, str]) -> None:
        """Hand the lock on, when done, to the writer waiting longest in ``model_tags``
        (the timeframe's model, as this writer read it)."""
        self.waiting = [w for w in waiters_in(model_tags) if w.token != self.token]

    def successor(self) -> Waiter | None:
        """Who gets the lock now: chosen at the last moment, so as not to pick a waiter
        that gives up before the hand-off lands."""
        return next((w for w in self.waiting if w.still_waiting()), None)

    def check(self) -> None:
        """Raise ``LockLost`` unless the lock is still this writer's: call before a write.

        Within its trust window (the first part of the lease, counted on this process's
        monotonic clock from before the lock was created or last refreshed) no other
        writer can have broken the lock, so the check asks nothing. A writer frozen past
        the window finds the window gone when it wakes, and asks."""
        if time.monotonic() < self.trusted_until:
            return
        model = or_missing(lambda: self.client.get_registered_model(self.name))
        if model is None or owner_of(model.tags or {})[0] != self.token:
            raise self._lost()

    def _lost(self) -> LockLost:
        return LockLost(
            f"{self.name.removeprefix(LOCK_PREFIX)}: this writer was stalled past its "
            "lease and another writer took its lock over; it wrote nothing more",
            hint="run `stagekeeper history` to see what was committed, then try again",
        )

    def beat(self, every: float) -> None:
        """Refresh the lease every ``every`` seconds while the lock is this writer's."""
        while not self._stop.wait(every):
            refreshed = time.monotonic()
            try:
                self.trusted_until = 0.0  # ask the registry, not the window
                self.check()
                self.client.set_registered_model_tag(self.name, HEARTBEAT_TAG, now_ms())
            except Exception:  # lost, or the server away: the checks before writes decide
                return
            self.trusted_until = refreshed + self.trust_seconds

    def stop(self) -> None:
        self._stop.set()


def now_ms() -> str:
    return str(int(time.time() * 1000))


def held_lock(lock: RegisteredModel) -> HeldLock:
    tags = lock.tags or {}
    alive = tags.get(HEARTBEAT_TAG, "0")
    owner, handed_ms = owner_of(tags)
    return HeldLock(
        lock.name,
        int(lock.creation_timestamp or 0),
        owner=owner,
        alive_ms=max(int(alive) if alive.isdigit() else 0, handed_ms),
        finishing=tuple(t for t in tags.get(FINISHING_TAG, "").split(",") if t),
    )


def owner_of(tags: Mapping[str, str]) -> tuple[str, int]:
    """The lock's owner, and when it was handed the lock (ms; 0: it created the lock)."""
    token, _, handed = tags.get(OWNER_TAG, "").partition(" ")
    return token, int(handed) if handed.isdigit() else 0


def monotonic_at(wall_ms: int) -> float:
    """This process's monotonic time at a moment of the wall clock, no later than now."""
    return time.monotonic() - max(0.0, time.time() - wall_ms / 1000)


Found = TypeVar("Found")


def or_missing(call: Callable[[], Found]) -> Found | None:
    """The call's answer, or ``None`` when MLflow says it does not exist."""
    try:
        return call()
    except MlflowException as exc:
        if error_code(exc) == "RESOURCE_DOES_NOT_EXIST":
            return None
        raise

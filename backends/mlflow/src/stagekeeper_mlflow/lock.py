"""A per-timeframe write lock made of the one thing MLflow creates atomically, fenced.

MLflow has no transactions and no compare-and-set, but creating a registered model whose
name exists fails with RESOURCE_ALREADY_EXISTS. So a writer holds the lock while the
registered model ``stagekeeper-lock.<model>`` exists. The lock carries its holder's token,
and so does the history record its holder writes first: when a writer dies holding the
lock, the next writer (or ``doctor``) breaks it once its lease has run out and finishes the
operation whose record carries that token, or, when there is none, knows that the dead
holder wrote nothing. The lock taken over names the tokens whose operation is being
finished (``FINISHING_TAG``), so that a writer dying while finishing hands it on.

Fencing: the lock carries its holder's token, and the holder checks, immediately before
each of its writes, that the lock is still its own; a heartbeat keeps the lease of a live
holder fresh, so only a dead or frozen holder loses its lock. A holder that finds its lock
taken writes nothing more (``LockLost``). The window that remains is the time between that
check and the write's arrival at the server; ``doctor`` repairs toward the history, whose
last record is the last operation that committed.

The check costs a request, so for the first half of its lease (less ``TRUST_MARGIN``),
counted on its own monotonic clock from before it created or last refreshed the lock, a
holder trusts the lock without asking: no other writer breaks a lock before it looks
expired. A frozen holder's monotonic clock runs on while it is stopped, so when it wakes
past that window it asks again. This assumes the writers' clocks disagree by less than
the margin plus half the lease (31 s with the 60 s lease).

Fairness: creating the model is a race that the writer who just let the lock go, and
comes straight back, wins against writers who poll. So a writer kept waiting announces
itself on the timeframe's model (``WAITER_PREFIX``, with when it arrived and when it gives
up), where every promotion reads the model anyway. A holder that saw waiters hands the lock
on to the one waiting longest instead of deleting it: one write, as the delete was, that
makes the waiter the owner (``OWNER_TAG``: its token and the time of the hand-off, from
which its lease counts). The waiter finds the lock its own at its next poll and withdraws
its announcement. A waiter about to give up (``HANDOFF_MARGIN``) is passed over; one that
died is handed the lock at most once, which then expires like a dead holder's.
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from mlflow.exceptions import MlflowException

from stagekeeper.domain.errors import LockLost, LockTimeout
from stagekeeper_mlflow.connection import RegistryClient, error_code
from stagekeeper_mlflow.history import HistoryLog
from stagekeeper_mlflow.lease import (
    HeldLock,
    Lease,
    Waiter,
    held_lock,
    monotonic_at,
    now_ms,
    or_missing,
    waiters_in,
)
from stagekeeper_mlflow.lookups import named
from stagekeeper_mlflow.mapping import (
    FINISHING_TAG,
    OWNER_TAG,
    lock_name,
)

TRUST_MARGIN = 2.0  # seconds
# Pauses between a waiter's polls, in seconds: growing to the longest, except for the
# writer next in line, which a lock handed on waits for.
FIRST_PAUSE, MAX_PAUSE, FIRST_IN_LINE_PAUSE = 0.01, 0.5, 0.1


def trusted_for(lease_seconds: float) -> float:
    """How long a writer may write without asking: another writer breaks a lock (or
    finishes a record) only once it looks expired to it, so half the lease, less a margin
    for clocks and requests; no trust on short leases."""
    return max(0.0, lease_seconds / 2 - TRUST_MARGIN)


class TimeframeLock:
    """Mutual exclusion between stagekeeper writers of one registered model."""

    def __init__(
        self,
        client: RegistryClient,
        model_name: str,
        *,
        lease_seconds: float,
        wait_seconds: float,
    ) -> None:
        self.client = client
        self.model_name = model_name
        self.name = lock_name(model_name)
        self.lease_seconds = lease_seconds
        self.wait_seconds = wait_seconds
        self.trust_seconds = trusted_for(lease_seconds)
        self._announced = False  # whether this writer told the holders that it waits

    @contextmanager
    def held(self) -> Iterator[Lease]:
        """Hold the lock. The lease's holder checks it before each write, writes its token
        into its first (the history record), and finishes a dead holder's operation before
        anything else."""
        now_ms = int(time.time() * 1000)
        waiter = Waiter(now_ms, uuid.uuid4().hex, now_ms + int(self.wait_seconds * 1000))
        taken_from, asked_at = self._acquire(waiter)
        lease = Lease(self.client, self.name, waiter.token, taken_from, self.trust_seconds)
        lease.trusted_until = asked_at + self.trust_seconds  # from before the lock existed
        heartbeat = None
        if self.lease_seconds >= 3:  # shorter leases are the tests' "every lock is dead"
            heartbeat = threading.Thread(
                target=lease.beat, args=(self.lease_seconds / 3,), daemon=True
            )
            heartbeat.start()
        try:
            if self._announced:
                self._withdraw(waiter)
            yield lease
        finally:
            lease.stop()
            if heartbeat is not None:
                heartbeat.join()
            self._release(lease)

    def _acquire(self, waiter: Waiter) -> tuple[tuple[HeldLock, ...], float]:
        """Create the lock, or be handed it; break an expired one on the way. Returns the
        locks it broke, whose holders' operation the new holder finishes, and when its lease
        began (monotonic): when the creating request was sent, or the hand-off."""
        deadline = time.monotonic() + self.wait_seconds
        pause = FIRST_PAUSE
        broken: tuple[HeldLock, ...] = ()
        held: HeldLock | None = None
        while True:
            if held is None:  # free, as far as this writer knows
                asked_at = time.monotonic()
                if self._create(waiter.token, broken):
                    return broken, asked_at
            held, first_in_line = self._look(waiter.token)
            if held is None:
                continue  # let go in the meantime
            if held.owner == waiter.token:
                return broken, monotonic_at(held.alive_ms)  # handed on to this writer
            if self.expired(held):
                if self.break_lock(held):
                    broken = (*broken, held)
                held = None
                continue
            if not self._announced:
                self._announce(waiter)
            if time.monotonic() > deadline:
                self._withdraw(waiter)
                held = self.find()  # a hand-off sent before the withdrawal may have landed
                if held is not None and held.owner == waiter.token:
                    return broken, monotonic_at(held.alive_ms)
                raise self._timeout(held)
            # Only the next in line needs to notice a hand-off at once; the others would
            # only load the server that the holder is waiting on.
            pause = FIRST_IN_LINE_PAUSE if first_in_line else min(pause * 2, MAX_PAUSE)
            time.sleep(pause * random.uniform(0.5, 1.5))

    def _create(self, token: str, broken: tuple[HeldLock, ...]) -> bool:
        """Create the lock; whether this writer did (else another holds it)."""
        finishing = [writer for held in broken for writer in held.writers]
        tags = {OWNER_TAG: token, **({FINISHING_TAG: ",".join(finishing)} if broken else {})}
        try:
            self.client.create_registered_model(
                self.name,
                tags=tags,
                description="stagekeeper write lock: exists only while a change is made",
            )
            return True
        except MlflowException as exc:
            # After a name clash MLflow re-reads the model; if its holder released it in
            # that instant, the clash is reported as "does not exist". Both mean: taken a
            # moment ago, try again.
            if error_code(exc) not in ("RESOURCE_ALREADY_EXISTS", "RESOURCE_DOES_NOT_EXIST"):
                raise
            return False

    def _look(self, token: str) -> tuple[HeldLock | None, bool]:
        """The lock, and whether this writer is the first of the writers waiting (or none
        waits yet): one search for the lock and the timeframe's model."""
        found = named(self.client, self.name, self.model_name)
        model = found.get(self.model_name)
        waiting = [w for w in waiters_in(model.tags or {}) if w.still_waiting()] if model else []
        lock = found.get(self.name)
        return (None if lock is None else held_lock(lock)), not waiting or waiting[0].token == token

    def _announce(self, waiter: Waiter) -> None:
        """Tell the holders, on the timeframe's model, that this writer waits."""
        self._announced = True
        or_missing(lambda: self.client.set_registered_model_tag(self.model_name, *waiter.tag))

    def _withdraw(self, waiter: Waiter) -> None:
        key, _ = waiter.tag
        or_missing(lambda: self.client.delete_registered_model_tag(self.model_name, key))

    def _timeout(self, held: HeldLock | None) -> LockTimeout:
        """Who holds the lock, since when, and when its lease lets the next writer in."""
        age = 0.0 if held is None else held.age_seconds()
        left = max(0.0, self.lease_seconds - age)
        return LockTimeout(
            f"{self.model_name} is being changed by {self.holder(held)} (lock held for "
            f"{age:.0f} s): waited {self.wait_seconds:g} s for its write lock",
            hint=f"its lease runs out in {left:.0f} s; then the next writer, or "
            "`stagekeeper doctor --fix`, finishes or drops its operation and takes over",
        )

    def holder(self, held: HeldLock | None) -> str:
        """Who holds the lock and for which operation, from the record it has written (one
        request); "another writer" before it has written one."""
        model = (
            None
            if held is None
            else or_missing(lambda: self.client.get_registered_model(self.model_name))
        )
        log = HistoryLog(self.client, self.model_name)
        records = log.by_writers(held.writers, model.tags or {}) if model and held else []
        try:
            record = json.loads(records[-1].value)
            return f"{record['actor']} (operation {record['operation_id']})"
        except (IndexError, ValueError, KeyError, TypeError):
            return "another writer"

    def _release(self, lease: Lease) -> None:
        """Hand the lock on to the writer waiting longest, or delete it; if it is still
        this writer's."""
        try:
            lease.check()
        except LockLost:
            return
        for gone in (w for w in lease.waiting if w.gone()):
            self._withdraw(gone)
        successor = lease.successor()
        if successor is None:
            _delete(self.client, self.name)
            return
        self.client.set_registered_model_tag(self.name, OWNER_TAG, f"{successor.token} {now_ms()}")

    def expired(self, held: HeldLock) -> bool:
        """Whether its holder has been silent for longer than the lease: presumed dead."""
        return held.age_seconds() > self.lease_seconds

    def find(self) -> HeldLock | None:
        """The lock as it stands in the registry, or ``None`` when nobody holds it."""
        model = or_missing(lambda: self.client.get_registered_model(self.name))
        return None if model is None else held_lock(model)

    def break_lock(self, held: HeldLock) -> bool:
        """Delete an expired lock, unless another writer took a new one meanwhile; whether
        it was deleted."""
        current = self.find()
        if current is None or (current.created_ms, current.owner) != (held.created_ms, held.owner):
            return False
        _delete(self.client, self.name)
        return True


def _delete(client: RegistryClient, name: str) -> None:
    try:
        client.delete_registered_model(name)
    except MlflowException as exc:
        if error_code(exc) != "RESOURCE_DOES_NOT_EXIST":
            raise

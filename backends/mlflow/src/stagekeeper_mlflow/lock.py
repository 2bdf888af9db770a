"""A per-timeframe write lock made of the one thing MLflow creates atomically.

MLflow has no transactions and no compare-and-set, but creating a registered model whose
name exists fails with RESOURCE_ALREADY_EXISTS. So a writer holds the lock while the
registered model ``stagekeeper-lock.<model>`` exists. Once the holder has
planned under the lock, it declares its intent on the lock (the history record it is about
to write) before its first write, so that when a writer dies holding it, the next writer
(or ``doctor``) can finish or drop that operation and break the lock once its lease has
run out. A lock without an intent was held by a writer that wrote nothing.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from mlflow.exceptions import MlflowException

from stagekeeper.domain.errors import LockTimeout
from stagekeeper_mlflow.connection import RegistryClient, error_code
from stagekeeper_mlflow.mapping import INTENT_TAG, LOCK_PREFIX, lock_name


@dataclass(frozen=True)
class Intent:
    """What a lock holder is doing: the history record it writes first, under ``key``."""

    key: str
    record: str
    moves: bool = True  # False: a record of changes already made (``doctor`` repairs)

    def encode(self) -> str:
        return json.dumps({"key": self.key, "record": self.record, "moves": self.moves})

    def holder(self) -> str:
        """Who declared it, and which operation, from its history record."""
        try:
            record = json.loads(self.record)
            return f"{record['actor']} (operation {record['operation_id']})"
        except (ValueError, KeyError, TypeError):
            return "another writer"

    @classmethod
    def decode(cls, value: str) -> Intent:
        data = json.loads(value)
        return cls(
            key=str(data["key"]), record=str(data["record"]), moves=bool(data.get("moves", True))
        )


@dataclass(frozen=True)
class HeldLock:
    """A lock found in the registry: whose intent, and since when (server time, ms)."""

    name: str
    intent: Intent | None
    created_ms: int

    def age_seconds(self) -> float:
        return time.time() - self.created_ms / 1000


Recover = Callable[[HeldLock], object]


class TimeframeLock:
    """Mutual exclusion between stagekeeper writers of one registered model."""

    def __init__(
        self,
        client: RegistryClient,
        model_name: str,
        *,
        lease_seconds: float,
        wait_seconds: float,
        recover: Recover,
    ) -> None:
        self.client = client
        self.name = lock_name(model_name)
        self.lease_seconds = lease_seconds
        self.wait_seconds = wait_seconds
        self.recover = recover

    @contextmanager
    def held(self) -> Iterator[Callable[[Intent], None]]:
        """Hold the lock; the holder declares its intent on it before its first write."""
        self._acquire()
        try:
            yield self._declare
        finally:
            self._release()

    def _declare(self, intent: Intent) -> None:
        self.client.set_registered_model_tag(self.name, INTENT_TAG, intent.encode())

    def _acquire(self) -> None:
        deadline = time.monotonic() + self.wait_seconds
        pause = 0.01
        while True:
            try:
                self.client.create_registered_model(
                    self.name,
                    description="stagekeeper write lock: exists only while a change is made",
                )
                return
            except MlflowException as exc:
                # After a name clash MLflow re-reads the model; if its holder released it
                # in that instant, the clash is reported as "does not exist". Both mean:
                # taken a moment ago, try again.
                if error_code(exc) not in ("RESOURCE_ALREADY_EXISTS", "RESOURCE_DOES_NOT_EXIST"):
                    raise
            held = self.find()
            if held is not None and self.expired(held):
                self.clear(held)
                continue
            if time.monotonic() > deadline:
                raise self._timeout(held)
            time.sleep(pause * random.uniform(0.5, 1.5))
            pause = min(pause * 2, 0.5)

    def _timeout(self, held: HeldLock | None) -> LockTimeout:
        """Who holds the lock, since when, and when its lease lets the next writer in."""
        holder = "another writer"
        if held is not None and held.intent is not None:
            holder = held.intent.holder()
        age = 0.0 if held is None else held.age_seconds()
        left = max(0.0, self.lease_seconds - age)
        return LockTimeout(
            f"{self.name.removeprefix(LOCK_PREFIX)} is being changed by {holder} (lock held for "
            f"{age:.0f} s): waited {self.wait_seconds:g} s for its write lock",
            hint=f"its lease runs out in {left:.0f} s; then the next writer, or "
            "`stagekeeper doctor --fix`, finishes or drops its operation and takes over",
        )

    def _release(self) -> None:
        try:
            self.client.delete_registered_model(self.name)
        except MlflowException as exc:
            if error_code(exc) != "RESOURCE_DOES_NOT_EXIST":
                raise

    def expired(self, held: HeldLock) -> bool:
        """Whether its holder has had longer than the lease: presumed dead."""
        return held.age_seconds() > self.lease_seconds

    def clear(self, held: HeldLock) -> None:
        """Finish or drop a dead holder's operation, then break its lock."""
        self.recover(held)
        self.break_lock(held)

    def find(self) -> HeldLock | None:
        """The lock as it stands in the registry, or ``None`` when nobody holds it."""
        try:
            model = self.client.get_registered_model(self.name)
        except MlflowException as exc:
            if error_code(exc) == "RESOURCE_DOES_NOT_EXIST":
                return None
            raise
        raw = model.tags.get(INTENT_TAG)
        try:
            intent = Intent.decode(raw) if raw else None
        except (ValueError, KeyError, TypeError):
            intent = None
        return HeldLock(self.name, intent, int(model.creation_timestamp or 0))

    def break_lock(self, held: HeldLock) -> None:
        """Delete an expired lock, unless another writer took a new one meanwhile."""
        current = self.find()
        if current is not None and current.created_ms == held.created_ms:
            self._release()

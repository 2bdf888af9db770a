"""MLflow writes ordered by the history's numbers (decision record 18): the lock only where
two writers meet, a repair is due, or a writer died.

MLflow numbers the versions of the history's model one by one, so a record that names the
number it expects is a compare-and-set: it counts only if no other version came first
(``history``). A write reads the history's end first (or takes the one its store's last
write left), then, in one round trip, the model, the versions it plans on and whether the
lock is held; it goes on without the lock if the newest record's writes have all landed
(``ordering``), plans, writes its record expecting the next number, then the alias, then
the stage tags. Anything else, and it gives way to the lock (``GaveWay``): a record
under way, a repair to make, a writer waiting, a plan that writes metrics or requests, or
its own record voided by another that came first.

Fencing without the lock: such a writer writes its alias and tags only within the first
part of the lease (``Trust``, counted from before its record was sent), and a successor
finishes its record only once that record is older than the whole lease, marking the model
for the one late write that may still land (``finish_abandoned``), as a broken lock does.

The lock holder orders its record the same way (``under_lock``), so that a writer without
the lock that read the history first is voided, or voids it, and the holder plans again;
before a repair, which writes without a record, it claims a number (``claim``).
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

from stagekeeper.domain.errors import LockLost, LockTimeout, StagekeeperError
from stagekeeper.domain.model import Plan
from stagekeeper.service.ports import Planner
from stagekeeper_mlflow import mapping, sequence
from stagekeeper_mlflow.history import Record, Tip
from stagekeeper_mlflow.lease import Lease
from stagekeeper_mlflow.lookups import champion_of
from stagekeeper_mlflow.ordering import GaveWay, Progress, moved_versions, progress
from stagekeeper_mlflow.view import Check, LockedView

if TYPE_CHECKING:
    from stagekeeper_mlflow.store import MlflowStore

# Pauses while another writer's record lands, in seconds.
FIRST_PAUSE, MAX_PAUSE = 0.01, 0.25


class Trust:
    """A writer without the lock writes within ``seconds`` of sending its record."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.until = 0.0

    def start(self) -> None:
        self.until = time.monotonic() + self.seconds

    def check(self) -> None:
        if time.monotonic() >= self.until:
            raise LockLost(
                "this writer was stalled after writing its record; the next writer "
                "finishes the operation it recorded, and it wrote nothing more",
                hint="run `stagekeeper history` to see what was committed",
            )


class Landing:
    """A lock holder waiting for another writer's record to land, up to the store's
    waiting time, as it waits for the lock."""

    def __init__(self, store: MlflowStore, name: str) -> None:
        self.store, self.name = store, name
        self.deadline = time.monotonic() + store.wait_seconds
        self.pause = FIRST_PAUSE

    def wait(self, record: Record) -> None:
        if time.monotonic() > self.deadline:
            age = time.time() - (record.created_ms or 0) / 1000
            raise LockTimeout(
                f"{self.name} is being changed by {_actor(record)} (its record written "
                f"{age:.0f} s ago, its writes still landing): waited "
                f"{self.store.wait_seconds:g} s",
                hint=f"once its record is {self.store.lease_seconds:g} s old, the next "
                "writer, or `stagekeeper doctor --fix`, finishes its operation",
            )
        time.sleep(self.pause)
        self.pause = min(self.pause * 2, MAX_PAUSE)

    def again(self) -> None:
        """Read and plan again, the history having moved meanwhile: up to the same time
        (versions added to the history without end, by hand, must not hold a writer)."""
        if time.monotonic() > self.deadline:
            raise LockTimeout(
                f"the history of {self.name} kept moving while this writer planned: "
                f"waited {self.store.wait_seconds:g} s",
                hint="run `stagekeeper doctor` to see what writes to it",
            )


def without_lock(store: MlflowStore, timeframe: str, name: str, planner: Planner) -> Plan | None:
    """Plan and commit without the lock, or give way (``GaveWay``) having written nothing
    that counts."""
    trust = Trust(store.trust_seconds)
    view = LockedView(store, timeframe, name, trust.check, locked=False)
    plan = _planned(store, view, planner)
    if view.lock_held or view.waiting():
        raise GaveWay("the lock is held, or writers wait for it")
    if plan is None:
        if not _unmoved(store, view):
            raise GaveWay("the registry moved while it was read")
        return None
    if plan.metrics or plan.requests:
        raise GaveWay("a plan that writes metrics or requests takes the lock")
    token = uuid.uuid4().hex
    record = mapping.encode_history(plan.changes, token, moves=not plan.records_only)
    expects = view.tip.next_number
    trust.start()  # before the record is sent: a successor counts from its creation
    number = store.history_of(name).append(plan.changes, record, token, expects=expects)
    if number != expects:
        store.tips.pop(name, None)
        raise GaveWay("another record came first")
    _apply(store, name, plan, record, trust.check)
    _landed_own(store, name, record, number)
    return plan


def under_lock(
    store: MlflowStore, timeframe: str, name: str, planner: Planner, lease: Lease
) -> Plan | None:
    """Plan and commit holding the lock: once the newest record has landed (finished if
    its writer died), with a record that a writer without the lock may void, in which case
    the holder reads and plans again."""
    landing = Landing(store, name)
    while True:
        view = LockedView(store, timeframe, name, lease.check)
        try:
            try:
                plan, refusal = planner(view), None
            except StagekeeperError as exc:
                plan, refusal = None, exc
        finally:  # refused or not, the lock goes on to a writer kept waiting
            lease.hand_on_to(view.read_tags())
        if not _landed(store, view, lease, landing):
            continue
        if (plan is None or refusal is not None) and not _unmoved(store, view):
            landing.again()
            continue  # a writer without the lock wrote while this one read: read again
        if refusal is not None:
            raise refusal
        if plan is None:
            return None
        record = mapping.encode_history(plan.changes, lease.token, moves=not plan.records_only)
        lease.check()
        extras = bool(plan.metrics or plan.requests)
        expects = view.tip.next_number
        number = store.history_of(name).append(
            plan.changes, record, lease.token, expects=expects, extras=extras
        )
        if number != expects:
            store.tips.pop(name, None)  # read the history's end again
            landing.again()
            continue  # a writer without the lock came first: plan again
        _apply(store, name, plan, record, lease.check)
        sequence.tag(store.client, name, plan, lease.check)
        _landed_own(store, name, record, number)
        return plan


def claim(store: MlflowStore, name: str, check: Check) -> Tip:
    """Take the history's next number before a repair (under the lock): a writer without
    the lock that read the history before it then writes a void record. Records written
    before the claim are in the history the repair reads. Returns the history's end
    after the claim."""
    log, writer = store.history_of(name), uuid.uuid4().hex
    while True:
        tip = log.tip()
        check()
        if log.claim(writer, tip.next_number) == tip.next_number:
            return dataclasses.replace(tip, next_number=tip.next_number + 1, claimed=True)


def wait_landed(
    store: MlflowStore, timeframe: str, name: str, lease: Lease, *, finish: bool
) -> tuple[Record | None, int]:
    """Under the lock, wait until the newest record's writes have landed, as ``doctor``
    does before it compares. Returns a record abandoned by its writer, unless ``finish``
    lands its writes (finishing it is a repair), and the number after the history's end
    whose writes all landed."""
    landing = Landing(store, name)
    while True:
        store.tips.pop(name, None)  # the history's end as it is now, not as this store left it
        view = LockedView(store, timeframe, name, lease.check, repairs=False)
        record = view.tip.record
        if state(store, view) is not Progress.UNDER_WAY or record is None:
            return None, view.tip.next_number
        if not _abandoned(store, record):
            landing.wait(record)
        elif finish:
            finish_abandoned(store, name, record, lease.check)
        else:
            return record, view.tip.next_number


def state(store: MlflowStore, view: LockedView) -> Progress:
    """How far the newest record's writes had landed when ``view`` read the registry. A
    change by hand found that way is asked again: the alias read before the stage tags
    may have been on its way (the alias lands first)."""
    record = view.tip.record
    if record is None or store.settled.get(view.name) == record.number:
        return Progress.DONE
    if record.extras and not view.locked:
        return Progress.UNDER_WAY  # its writer holds the lock until its last write lands
    try:
        versions = moved_versions(record.value)
    except ValueError:
        return Progress.DONE  # unreadable: doctor's
    alias = champion_of(view.model) if view.model else None
    tags = view.tags_of(versions)
    found = progress(record.value, alias, tags)
    if found is not Progress.DRIFT:
        return found
    model = store.lookups.model(view.name)  # after the tags: an alias on its way is in
    alias_now = champion_of(model) if model else None
    return found if progress(record.value, alias_now, tags) is found else Progress.UNDER_WAY


def _planned(store: MlflowStore, view: LockedView, planner: Planner) -> Plan | None:
    """The plan, or the planner's refusal, if what it read had settled; else give way."""
    try:
        plan = planner(view)
    except StagekeeperError:
        if view.tip.claimed or state(store, view) is Progress.UNDER_WAY:
            raise GaveWay("planned on a record under way") from None
        if not _unmoved(store, view):
            raise GaveWay("the registry moved while it was read") from None
        raise
    if view.tip.claimed or state(store, view) is Progress.UNDER_WAY:
        raise GaveWay("planned on a record under way")
    return plan


def _unmoved(store: MlflowStore, view: LockedView) -> bool:
    """Whether nothing was written while ``view`` read: the history's end still where the
    view read it first and, without the lock, the lock free (a registration writes its
    version before its record). A result that writes nothing, no plan or a refusal, has no
    record for such a write to void, and without this could rest on reads of two moments:
    the versions from before a record, the records from after it."""
    reads: list[Callable[[], object]] = [store.history_of(view.name).tip]
    if not view.locked:
        reads.append(view.lock_held_now)
    tip, *held = store.at_once.reads(*reads)
    if tip.next_number == view.tip.next_number and not any(held):
        return True
    store.tips.pop(view.name, None)  # read the history's end again
    return False


def _landed(store: MlflowStore, view: LockedView, lease: Lease, landing: Landing) -> bool:
    """Whether the newest record's writes had landed; else wait for them, or, once the
    record is older than the lease (its writer died or froze), finish them here."""
    record = view.tip.record
    if state(store, view) is not Progress.UNDER_WAY or record is None:
        return True
    if _abandoned(store, record):
        finish_abandoned(store, view.name, record, lease.check)
    else:
        landing.wait(record)
    return False


def _abandoned(store: MlflowStore, record: Record) -> bool:
    """Older than the lease: its writer, had it lived, would have stopped writing."""
    return time.time() * 1000 - (record.created_ms or 0) > store.lease_seconds * 1000


def finish_abandoned(store: MlflowStore, name: str, record: Record, check: Check) -> None:
    """Land the writes of a record whose writer stopped before them. The model is marked
    first, naming that writer: it may be frozen, not dead, and land one write when it
    wakes, which the next writers and ``doctor`` undo (decision record 2)."""
    check()
    store.client.set_registered_model_tag(name, mapping.fenced_key(record.writer or "?"), "")
    sequence.apply(store.client, name, record.value, check)


def _landed_own(store: MlflowStore, name: str, record: str, number: int) -> None:
    """Remember this store's record, all of whose writes landed: the next write here need
    not read the history's end, nor check that the record landed."""
    store.settled[name] = number
    store.tips[name] = Tip(number + 1, Record(f"{name} v{number}", record, number))


def registered(store: MlflowStore, name: str, number: int) -> None:
    """A registration's record took ``number``: the history's end this store remembers
    moves on, where nothing came between (a registration has nothing to land)."""
    tip = store.tips.pop(name, None)
    if tip is not None and tip.next_number == number:
        store.tips[name] = dataclasses.replace(tip, next_number=number + 1)


def _actor(record: Record) -> str:
    try:
        return str(mapping.decode_history("", "", record.value)[0].actor)
    except (ValueError, IndexError):
        return "another writer"


def _apply(store: MlflowStore, name: str, plan: Plan, record: str, check: Check) -> None:
    sequence.apply(store.client, name, record, check, store.at_once.writes)
    if plan.crowns_champion:
        store.champions[name] = next(c.version for c in plan.changes if c.crowns)

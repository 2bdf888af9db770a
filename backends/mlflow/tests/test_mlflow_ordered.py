"""Writes ordered by the history's numbers (decision record 18): a write takes the lock only
where another meets it, and a record that another came before counts for nothing."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from mlflow.tracking import MlflowClient

from stagekeeper import LockTimeout, Stage, TransitionError, open_registry
from stagekeeper.domain.model import StageChange
from stagekeeper.service.ports import StoreOptions
from stagekeeper.service.registry import Registry
from stagekeeper_mlflow.history import CLAIM_TAG, EXPECTS_TAG
from stagekeeper_mlflow.mapping import CHAMPION_ALIAS, FENCED_PREFIX, history_model, lock_name
from stagekeeper_mlflow.store import MlflowStore

SOURCE = "s3://models/ordered"
WAIT = 30.0  # seconds: a test that waits this long has failed


class Hooked:
    """MLflow's client, calling ``hook`` once, before the first ``method`` call on a model
    whose name starts with ``prefix``; and noting every call's name and model."""

    def __init__(self, inner: Any, method: str, prefix: str, hook: Callable[[], object]) -> None:
        self.inner, self.method, self.prefix = inner, method, prefix
        self.hook: Callable[[], object] | None = hook
        self.calls: list[tuple[str, str]] = []

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.inner, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            model = str(args[0]) if args else str(kwargs.get("name", ""))
            self.calls.append((name, model))
            if self.hook is not None and name == self.method and model.startswith(self.prefix):
                hook, self.hook = self.hook, None
                hook()
            return attr(*args, **kwargs)

        return call


class Paused:
    """A writer without the lock, held between its reads and its record (``hold``, its
    hook) until another party lets it go and waits for it to land (``release``)."""

    def __init__(self) -> None:
        self.read, self.go, self.done = (threading.Event() for _ in range(3))

    def hold(self) -> None:
        self.read.set()
        assert self.go.wait(WAIT)

    def release(self) -> None:
        self.go.set()
        assert self.done.wait(WAIT)

    @contextmanager
    def running(self, write: Callable[[], object]) -> Iterator[None]:
        """``write`` in a thread, held once it has read; the body runs meanwhile."""

        def run() -> None:
            try:
                write()
            finally:
                self.done.set()

        thread = threading.Thread(target=run)
        thread.start()
        assert self.read.wait(WAIT)
        yield
        thread.join(WAIT)


def _hook(registry: Registry, method: str, prefix: str, hook: Callable[[], object]) -> Hooked:
    store: Any = registry.store
    hooked = Hooked(store.lookups.client, method, prefix, hook)
    store.lookups.client = hooked
    return hooked


@contextmanager
def _writer(url: str, template: str, actor: str, lease: float = 60.0) -> Iterator[Registry]:
    options = StoreOptions(model_name_template=template)
    store = MlflowStore(url, options, lease_seconds=lease)
    with Registry(store, options=options, actor=actor) as registry:
        yield registry


def _three_in_beta_one_crowned(registry: Registry) -> None:
    for number in (1, 2, 3):
        registry.register("1H", source=SOURCE)
        registry.promote("1H", number, Stage.BETA)
    registry.promote("1H", 1, Stage.CHAMPION)


def _void_records(client: MlflowClient, name: str) -> list[int]:
    found = client.search_model_versions(f"name='{history_model(name)}'")
    return sorted(
        int(v.version)
        for v in found
        if EXPECTS_TAG in v.tags and int(v.tags[EXPECTS_TAG]) != int(v.version)
    )


def _newest_record(client: MlflowClient, name: str) -> Any:
    return client.search_model_versions(
        f"name='{history_model(name)}'", max_results=1, order_by=["version_number DESC"]
    )[0]


def _crowned(registry: Registry) -> list[int]:
    return [c.version for c in registry.history("1H") if c.to_stage is Stage.CHAMPION]


def _consistent(registry: Registry) -> dict[int, Stage]:
    """Each version's stage, checked against the history folded, and doctor's silence."""
    stages = {v.version: v.stage for v in registry.list("1H")}
    replayed: dict[int, Stage] = {}
    for change in registry.history("1H"):
        assert replayed.get(change.version, change.from_stage) == change.from_stage, change
        replayed[change.version] = change.to_stage
    assert replayed == stages
    assert registry.doctor() == []
    return stages


def test_a_promotion_nobody_meets_takes_no_lock(registry: Registry, client: MlflowClient) -> None:
    _three_in_beta_one_crowned(registry)
    name = registry.model_name("1H")
    hooked = _hook(registry, "none", "", lambda: None)
    registry.promote("1H", 2, Stage.CHAMPION)
    lock = [call for call in hooked.calls if call[1] == lock_name(name)]
    assert lock == [("get_registered_model", lock_name(name))]  # looked at, not taken
    newest = _newest_record(client, name)
    assert newest.tags[EXPECTS_TAG] == str(newest.version)  # the number it expected: it counts
    assert _void_records(client, name) == []


@contextmanager
def _racing(
    url: str, template: str, act: Callable[[Registry], object], lease: float = 60.0
) -> Iterator[tuple[Registry, list[StageChange]]]:
    """``fast`` crowns v2 (v1 champion, 3 in beta) while ``act(other)`` runs just before its
    record is sent; ``other`` writes with ``lease``."""
    with (
        _writer(url, template, "fast") as fast,
        _writer(url, template, "other", lease) as other,
    ):
        _three_in_beta_one_crowned(fast)
        history = history_model(fast.model_name("1H"))
        _hook(fast, "create_model_version", history, lambda: act(other))
        yield fast, fast.promote("1H", 2, Stage.CHAMPION)


def test_a_record_another_came_before_is_void_and_the_write_plans_again(
    mlflow_url: str, template: str, client: MlflowClient
) -> None:
    """Between a writer's reads and its record, another crowns v3: its record, expecting
    the number the other took, is void; it takes the lock and crowns v2 over v3."""

    def crown_three(other: Registry) -> object:
        return other.promote("1H", 3, "champion")

    with _racing(mlflow_url, template, crown_three) as (first, (demotion, crowning)):
        assert (demotion.version, demotion.from_stage, crowning.version) == (3, Stage.CHAMPION, 2)
        assert len(_void_records(client, first.model_name("1H"))) == 1
        assert _crowned(first) == [1, 3, 2]  # the void record is no part of the history
        assert _consistent(first) == {1: Stage.ARCHIVED, 2: Stage.CHAMPION, 3: Stage.ARCHIVED}
        assert first.events()[-1].previous_champion == 3


def test_a_lock_holders_record_voided_by_a_write_without_the_lock_is_planned_again(
    mlflow_url: str, template: str, client: MlflowClient
) -> None:
    """A writer without the lock read the registry before the holder took it, and writes
    its record just before the holder's: the holder's is void, and it plans again."""
    paused = Paused()
    with (
        _writer(mlflow_url, template, "fast") as fast,
        _writer(mlflow_url, template, "holder", lease=5.0) as holder,  # always the lock
    ):
        _three_in_beta_one_crowned(fast)
        history = history_model(fast.model_name("1H"))
        _hook(fast, "create_model_version", history, paused.hold)
        _hook(holder, "create_model_version", history, paused.release)
        with paused.running(lambda: fast.promote("1H", 3, Stage.CHAMPION)):
            holder.promote("1H", 2, Stage.CHAMPION)

        assert len(_void_records(client, fast.model_name("1H"))) == 1
        assert _crowned(holder) == [1, 3, 2]
        assert _consistent(holder) == {1: Stage.ARCHIVED, 2: Stage.CHAMPION, 3: Stage.ARCHIVED}


def test_an_alias_moved_back_by_hand_is_the_champion_and_nobody_waits(
    registry: Registry, client: MlflowClient, mlflow_url: str, template: str
) -> None:
    """The alias lands before the stage tags, so an alias back on the old champion beside
    tags that moved on is a change by hand, not a write under way: the next writer, in
    another process, goes on at once (waiting would time out here) from the alias."""
    _three_in_beta_one_crowned(registry)
    registry.promote("1H", 2, Stage.CHAMPION)
    name = registry.model_name("1H")
    client.set_registered_model_alias(name, CHAMPION_ALIAS, "1")
    with open_registry(
        mlflow_url, actor="next", model_name_template=template, lock_timeout=0.5
    ) as following:
        demotion, crowning = following.promote("1H", 3, Stage.CHAMPION)
    assert (demotion.version, crowning.version) == (1, 3)


def test_a_record_under_way_makes_a_lock_holder_wait_then_time_out(
    registry: Registry, client: MlflowClient, mlflow_url: str, template: str
) -> None:
    """A record whose writes have not landed, and is younger than the lease: its writer
    may be writing. The next writer waits for it, up to its waiting time."""
    _three_in_beta_one_crowned(registry)
    name = registry.model_name("1H")
    # A record of v2 crowned, as a writer that has not landed its alias yet leaves it.
    hooked = _hook(registry, "set_registered_model_alias", name, _stop)
    with pytest.raises(_Stopped):
        registry.promote("1H", 2, Stage.CHAMPION)
    assert ("set_model_version_tag", name) not in hooked.calls
    with (
        open_registry(
            mlflow_url, actor="next", model_name_template=template, lock_timeout=0.5
        ) as following,
        pytest.raises(LockTimeout, match="being changed by tester"),
    ):
        following.promote("1H", 3, Stage.CHAMPION)
    assert str(client.get_registered_model(name).aliases[CHAMPION_ALIAS]) == "1"


class _Stopped(Exception):
    """A writer stopped on purpose between its record and its alias."""


def _stop() -> None:
    raise _Stopped


def test_a_repair_claims_a_number_first_so_a_write_read_before_it_is_void(
    mlflow_url: str, template: str, client: MlflowClient
) -> None:
    """doctor --fix writes no record of its own; a writer without the lock that read the
    registry before it must not count, or it would land beside the repairs."""

    def fix(other: Registry) -> object:
        return other.doctor(fix=True)

    with _racing(mlflow_url, template, fix) as (fast, _):
        assert len(_void_records(client, fast.model_name("1H"))) == 1  # the claim's doing
        assert _crowned(fast) == [1, 2]
        assert _consistent(fast) == {1: Stage.ARCHIVED, 2: Stage.CHAMPION, 3: Stage.BETA}


def test_a_late_write_undone_under_the_lock_voids_a_write_read_before_it(
    mlflow_url: str, template: str, client: MlflowClient
) -> None:
    """A lock holder undoing a late write (a marked model) claims a number first, even
    when its own plan is then refused and writes no record."""

    def mark_then_refused_repair(holder: Registry) -> None:
        name = holder.model_name("1H")
        client.set_registered_model_tag(name, f"{FENCED_PREFIX}gone", "")
        with pytest.raises(TransitionError):
            holder.promote("1H", 1, Stage.BETA)  # undoes, then is refused

    # lease 2.9: too short to trust, so the holder always takes the lock
    with _racing(mlflow_url, template, mark_then_refused_repair, lease=2.9) as (fast, _):
        assert len(_void_records(client, fast.model_name("1H"))) == 1
        assert _crowned(fast) == [1, 2]


class _BeforeReadingRecords:
    """MLflow's client, running ``hook`` once, before a read of every record of a history
    (oldest first: what ``doctor`` compares with), after anything read before; the first
    ``passing`` such reads go by without it."""

    def __init__(self, inner: Any, hook: Callable[[], object], passing: int = 0) -> None:
        self.inner, self.passing = inner, passing
        self.hook: Callable[[], object] | None = hook

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.inner, name)
        if name != "search_model_versions":
            return attr

        def call(filter_string: str, max_results: int, order_by: Any, token: Any) -> Any:
            if order_by == ["version_number ASC"] and self.hook is not None:
                self.passing -= 1
                if self.passing < 0:
                    hook, self.hook = self.hook, None
                    hook()
            return attr(filter_string, max_results, order_by, token)

        return call


@pytest.mark.parametrize(
    ("passing", "lease"),
    [
        pytest.param(0, 60.0, id="its own look, under the lock"),
        pytest.param(1, 60.0, id="the history drift, without the lock"),
        pytest.param(1, 5.0, id="the history drift, under the lock"),  # too short to trust
    ],
)
def test_doctor_looks_again_at_a_write_that_landed_while_it_compared(
    mlflow_url: str, template: str, passing: int, lease: float
) -> None:
    """doctor without --fix writes nothing, so a write may land while it compares, the
    versions read before, the records after: any write, where doctor reads without the
    lock; under it, one that read the registry before the lock was taken. That is not
    drift; doctor looks again. (``passing``: the store's own look reads the records first,
    then the history drift, which every store shows.)"""
    paused = Paused()
    with (
        _writer(mlflow_url, template, "writer") as writer,
        _writer(mlflow_url, template, "doctor", lease) as doctor,
    ):
        _three_in_beta_one_crowned(writer)
        history = history_model(writer.model_name("1H"))
        _hook(writer, "create_model_version", history, paused.hold)
        store: Any = doctor.store
        store.lookups.client = _BeforeReadingRecords(store.lookups.client, paused.release, passing)
        with paused.running(lambda: writer.promote("1H", 2, Stage.CHAMPION)):
            assert doctor.doctor() == []
        assert doctor.champion("1H").version == 2  # type: ignore[union-attr]


def test_a_refusal_rests_on_reads_of_one_moment(mlflow_url: str, template: str) -> None:
    """A refusal writes no record for a write that came between its reads to void. Here
    the alias is read before another writer crowns v2, v2's tags after, so v2 reads as
    archived, which it never was. The history's end, read again, has moved: the refusal
    is made again on what v2 is, the champion."""
    with (
        _writer(mlflow_url, template, "fast") as fast,
        _writer(mlflow_url, template, "other") as other,
    ):
        _three_in_beta_one_crowned(fast)
        versions = f"name='{fast.model_name('1H')}'"  # a search of the versions, not the history

        def crown_two() -> object:
            return fast.promote("1H", 2, Stage.CHAMPION)

        _hook(other, "search_model_versions", versions, crown_two)
        with pytest.raises(TransitionError, match="from champion to development"):
            other.promote("1H", 2, Stage.DEVELOPMENT)


class _BeforeCalls:
    """MLflow's client, running before each call of a method with a given first argument
    the next of the hooks listed for it (``None``: none this time)."""

    def __init__(self, inner: Any, hooks: dict[tuple[str, str], list[Callable[[], object] | None]]):
        self.inner, self.hooks = inner, hooks

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.inner, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            waiting = self.hooks.get((name, str(args[0]) if args else ""))
            hook = waiting.pop(0) if waiting else None
            if hook is not None:
                hook()
            return attr(*args, **kwargs)

        return call


def test_doctor_waits_for_a_registration_that_began_while_it_read(
    mlflow_url: str, template: str
) -> None:
    """A registration writes its version under the lock, then its record. doctor, reading
    without the lock, found the lock free, then the new version, then no record of it:
    the lock, read again, is held, so it reads again under the lock, and finds nothing."""
    paused = Paused()
    with (
        _writer(mlflow_url, template, "writer") as writer,
        _writer(mlflow_url, template, "doctor") as doctor,
    ):
        _three_in_beta_one_crowned(writer)
        name = writer.model_name("1H")
        _hook(writer, "create_model_version", history_model(name), paused.hold)
        registering = threading.Thread(target=lambda: writer.register("1H", source=SOURCE))

        def register_until_its_record() -> None:
            registering.start()
            assert paused.read.wait(WAIT)

        store: Any = doctor.store
        store.lookups.client = _BeforeCalls(
            store.lookups.client,
            {
                # the first lists the timeframes; the second is the drift's, without the lock
                ("search_model_versions", f"name='{name}'"): [None, register_until_its_record],
                ("create_registered_model", lock_name(name)): [None, paused.go.set],
            },
        )
        assert doctor.doctor() == []
        registering.join(WAIT)
        assert [v.version for v in doctor.list("1H")] == [1, 2, 3, 4]


def test_a_record_voided_by_hand_is_drift_that_doctor_records(
    registry: Registry, client: MlflowClient
) -> None:
    """Anyone who may write the history's model can void a record by hand, with a number
    it never expected. Readers pass over it like any void record, so the version stands
    where the history no longer moves it: doctor reports that as drift and records the
    move, after which the history replays again."""
    _three_in_beta_one_crowned(registry)
    newest = _newest_record(client, registry.model_name("1H"))
    client.set_model_version_tag(newest.name, newest.version, EXPECTS_TAG, "999")
    assert _crowned(registry) == []
    (finding,) = registry.doctor()
    assert (finding.code, finding.version) == ("history-drift", 1)
    registry.doctor(fix=True)
    assert _consistent(registry)[1] is Stage.CHAMPION


def test_a_claims_tag_put_on_a_record_by_hand_voids_nothing(
    registry: Registry, client: MlflowClient
) -> None:
    """A claim is a version with no record: the tag beside a record changes nothing but
    that the next write, taking the newest version for a claim, takes the lock."""
    _three_in_beta_one_crowned(registry)
    newest = _newest_record(client, registry.model_name("1H"))
    client.set_model_version_tag(newest.name, newest.version, CLAIM_TAG, "yes")
    assert _crowned(registry) == [1]
    assert registry.doctor() == []
    registry.promote("1H", 2, Stage.CHAMPION)
    assert _consistent(registry) == {1: Stage.ARCHIVED, 2: Stage.CHAMPION, 3: Stage.BETA}


@pytest.mark.parametrize(
    ("stage", "before"),
    [
        pytest.param(Stage.CHAMPION, "create_model_version", id="each record void"),
        pytest.param(Stage.BETA, "search_model_versions", id="each refusal read again"),
    ],
)
def test_a_history_moved_without_end_by_hand_times_a_writer_out(
    mlflow_url: str, template: str, client: MlflowClient, stage: Stage, before: str
) -> None:
    """Someone adds a version to the history before each of a lock holder's records (each
    is void), or before each read of the history's end (a refusal's reads never stand):
    the holder reads and plans again up to its waiting time, then says so, and the
    registry is as it was."""
    options = StoreOptions(model_name_template=template, lock_timeout=1.0)
    store = MlflowStore(mlflow_url, options, lease_seconds=5.0)  # too short to trust: the lock
    with Registry(store, options=options, actor="holder") as holder:
        _three_in_beta_one_crowned(holder)
        history = history_model(holder.model_name("1H"))

        def by_hand() -> None:
            client.create_model_version(history, "s3://by/hand", await_creation_for=0)

        first_argument = history if before == "create_model_version" else f"name='{history}'"
        store.lookups.client = _BeforeCalls(
            store.lookups.client, {(before, first_argument): [by_hand] * 1000}
        )
        with pytest.raises(LockTimeout, match="kept moving"):
            holder.promote("1H", 1 if stage is Stage.BETA else 2, stage)
        assert holder.champion("1H").version == 1  # type: ignore[union-attr]

"""Broken states, made by hand through MlflowClient or by a writer dying mid-operation,
are read with one champion and repaired by ``doctor --fix``."""

from __future__ import annotations

import itertools
import json
import re
import time
from typing import Any

import pytest
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from stagekeeper import LockTimeout, Stage, TransitionError
from stagekeeper.cli.app import app
from stagekeeper.service.ports import StoreOptions
from stagekeeper.service.registry import Registry
from stagekeeper_mlflow import history
from stagekeeper_mlflow.history import Record, inherited, own
from stagekeeper_mlflow.mapping import NO_POLICY_TAG, STAGE_TAG
from stagekeeper_mlflow.store import MlflowStore

SOURCE = "s3://models/1h"
WRITES = ("create_", "set_", "delete_")


class Crash(BaseException):
    """The process died: nothing after this call happens, not even cleanup."""


class DyingClient:
    """The store's real client, until its ``dies_at``-th write, which never happens."""

    def __init__(self, inner: Any, dies_at: int) -> None:
        self.inner, self.dies_at, self.writes, self.dead = inner, dies_at, 0, False

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.inner, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            if name.startswith(WRITES):
                self.writes += 1
                self.dead = self.dead or self.writes == self.dies_at
            if self.dead:
                raise Crash(name)
            return method(*args, **kwargs)

        return call


def fresh(mlflow_url: str, template: str, **store_args: Any) -> Registry:
    """A new process's registry; ``lease_seconds=0`` treats any lock as abandoned."""
    options = StoreOptions(model_name_template=template)
    return Registry(MlflowStore(mlflow_url, options, **store_args), options=options, actor="doctor")


def with_two_champions_in_history(registry: Registry) -> None:
    for version in (1, 2):
        registry.register("1H", source=SOURCE)
        registry.promote("1H", version, "beta")
    registry.promote("1H", 1, "champion")


def champions(registry: Registry) -> list[int]:
    return [v.version for v in registry.list("1H", Stage.CHAMPION)]


def test_a_champion_tag_without_the_alias_is_read_as_archived_and_fixed(
    registry: Registry, client: MlflowClient
) -> None:
    with_two_champions_in_history(registry)
    name = registry.model_name("1H")
    client.set_model_version_tag(name, "2", STAGE_TAG, "champion")
    assert champions(registry) == [1]
    assert registry.get("1H", 2).stage is Stage.ARCHIVED
    found = {(f.code, f.version) for f in registry.doctor()}
    assert ("stale-champion-tag", 2) in found
    assert all(f.fixed for f in registry.doctor(fix=True))
    assert client.get_model_version(name, "2").tags[STAGE_TAG] == "archived"
    assert registry.doctor() == []


def test_a_no_policy_tag_put_back_by_hand_is_found_and_taken_away(
    registry: Registry, client: MlflowClient
) -> None:
    """Setting a policy takes every model's ``stagekeeper.no-policy`` away; one put back by
    hand would let that model's writes skip the policy, until doctor takes it away."""
    with_two_champions_in_history(registry)
    registry.set_policy({"champion": {"require": ["sharpe >= 1.0"]}})
    name = registry.model_name("1H")
    client.set_registered_model_tag(name, NO_POLICY_TAG, "put back by hand")
    assert [(f.code, f.version) for f in registry.doctor()] == [("policy-skipped", None)]
    assert all(f.fixed for f in registry.doctor(fix=True))
    assert NO_POLICY_TAG not in client.get_registered_model(name).tags
    assert registry.doctor() == []
    with pytest.raises(TransitionError, match="sharpe"):
        registry.promote("1H", 2, "champion")


def test_an_alias_moved_by_hand_wins_and_doctor_records_it(
    registry: Registry, client: MlflowClient
) -> None:
    with_two_champions_in_history(registry)
    name = registry.model_name("1H")
    client.set_registered_model_alias(name, "champion", "2")
    assert champions(registry) == [2]
    codes = sorted((f.code, f.version) for f in registry.doctor())
    assert codes == [
        ("champion-tag-missing", 2),
        ("history-drift", 1),
        ("history-drift", 2),
        ("stale-champion-tag", 1),
    ]
    registry.doctor(fix=True)
    assert registry.doctor() == []
    assert client.get_model_version(name, "2").tags[STAGE_TAG] == "champion"
    repairs = [c for c in registry.history("1H") if c.cause.value == "repair"]
    assert {(c.version, c.to_stage) for c in repairs} == {(1, Stage.ARCHIVED), (2, Stage.CHAMPION)}


def test_the_history_of_a_model_deleted_and_created_again_by_hand_is_set_aside(
    registry: Registry, client: MlflowClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The old model's records outlive it (the history is a model of its own). Its v1 was
    a champion; the new model's v1 never was, and no rollback may crown it."""
    monkeypatch.setattr(history, "CLOCK_MARGIN_MS", 0)  # one clock here: the server's or ours
    with_two_champions_in_history(registry)
    registry.promote("1H", 2, "champion")  # the old v1: archived, a former champion
    name = registry.model_name("1H")
    client.delete_registered_model(name)
    time.sleep(0.01)
    client.create_registered_model(name)
    for stage in ("archived", "development"):
        client.create_model_version(name, SOURCE, tags={STAGE_TAG: stage})
    registry.promote("1H", 2, "beta")
    registry.promote("1H", 2, "champion")

    with pytest.raises(TransitionError, match="no archived former champion"):
        registry.rollback("1H")
    # No drift found against the old records; v1, made by hand, is in none of the new.
    finding, unrecorded = registry.doctor()
    assert (finding.code, finding.version) == ("inherited-history", None)
    assert (unrecorded.code, unrecorded.version) == ("unrecorded-version", 1)
    assert finding.message.startswith(f"6 history records of {name} are older than the model")
    assert len(registry.history("1H")) == 9  # until doctor --fix, the listing shows them

    registry.doctor(fix=True)
    assert [(c.version, c.to_stage) for c in registry.history("1H")] == [
        (2, Stage.BETA), (2, Stage.CHAMPION), (1, Stage.ARCHIVED)
    ]  # fmt: skip
    aside = client.search_model_versions(f"name='stagekeeper history of {name}'")
    assert sum("stagekeeper.inherited-history" in v.tags for v in aside) == 6
    assert registry.doctor() == []


def test_only_records_older_than_the_model_by_the_clock_margin_are_inherited() -> None:
    records = [Record(f"h v{n}", "{}", n, ms) for n, ms in enumerate((1_000, 60_999, 61_000))]
    assert [r.number for r in inherited(records, 121_000)] == [0, 1]
    assert [r.number for r in own(records, 121_000)] == [2]
    assert inherited([Record("legacy tag", "{}")], 121_000) == []


def test_an_unreadable_history_record_is_set_aside(
    registry: Registry, client: MlflowClient
) -> None:
    registry.register("1H", source=SOURCE)
    name = registry.model_name("1H")
    client.set_registered_model_tag(name, "stagekeeper.history.00000000000000001.torn", '{"op')
    assert len(registry.history("1H")) == 1  # the torn record hides nothing else
    [finding] = registry.doctor()
    assert finding.code == "unreadable-history"
    registry.doctor(fix=True)
    tags = client.get_registered_model(name).tags
    assert "stagekeeper.unreadable-history.00000000000000001.torn" in tags
    assert registry.doctor() == []


def test_an_unreadable_record_of_the_history_model_is_set_aside(
    registry: Registry, client: MlflowClient
) -> None:
    registry.register("1H", source=SOURCE)
    history = f"stagekeeper history of {registry.model_name('1H')}"
    client.create_model_version(history, "stagekeeper:/history", tags={"stagekeeper.record": "{"})
    registry.promote("1H", 1, "beta")
    assert [c.to_stage for c in registry.history("1H")] == [Stage.DEVELOPMENT, Stage.BETA]
    [finding] = registry.doctor()
    assert (finding.code, finding.subject) == ("unreadable-history", f"{history} v2")
    registry.doctor(fix=True)
    assert client.get_model_version(history, "2").tags == {"stagekeeper.unreadable-history": "{"}
    assert registry.doctor() == []
    assert len(registry.history("1H")) == 2


# A write's path (decision record 18), by the lease that chooses it: its writes, and which
# of them is the record. Without the lock: record, alias, 2 tags; with a lease too short to
# trust (and no heartbeat), the lock: lock, record, alias, 2 tags, unlock.
PATHS = {"without the lock": (60.0, 4, 2), "under the lock": (2.9, 6, 3)}


@pytest.mark.parametrize(
    ("path", "dies_at"),
    [(path, n) for path, (_, writes, _) in PATHS.items() for n in range(1, writes + 1)],
)
def test_a_writer_dying_at_any_write_leaves_one_champion_and_a_repairable_state(
    registry: Registry,
    client: MlflowClient,
    mlflow_url: str,
    template: str,
    path: str,
    dies_at: int,
) -> None:
    with_two_champions_in_history(registry)
    before = registry.list("1H")
    lease, _, record_at = PATHS[path]
    writer = fresh(mlflow_url, template, lease_seconds=lease)
    store: Any = writer.store
    store.lookups.client = DyingClient(store.lookups.client, dies_at)
    with pytest.raises(Crash):
        writer.promote("1H", 2, "champion")

    survivor = fresh(mlflow_url, template, lease_seconds=0)
    assert len(champions(survivor)) == 1
    assert client.get_model_version_by_alias(registry.model_name("1H"), "champion")
    survivor.doctor(fix=True)
    assert survivor.doctor() == []
    recorded = any(c.version == 2 and c.to_stage is Stage.CHAMPION for c in survivor.history())
    assert champions(survivor) == ([2] if recorded else [1])
    assert recorded == (dies_at >= record_at)  # the record is written before anything moves
    if not recorded:
        assert survivor.list("1H") == before


class DyingInTheGroup:
    """The store's real client, until the writes after the history record, sent at once
    through a server: those in ``lands`` reach the registry, then the process dies (every
    other write, and every one after, never happens)."""

    def __init__(self, inner: Any, name: str, lands: set[str]) -> None:
        self.inner, self.name, self.lands, self.dead = inner, name, lands, False

    def __getattr__(self, method: str) -> Any:
        real = getattr(self.inner, method)

        def call(*args: Any, **kwargs: Any) -> Any:
            part = self._part(method, args)
            if part is not None or (self.dead and method.startswith(WRITES)):
                self.dead = True
                if part not in self.lands:
                    raise Crash(method)
            return real(*args, **kwargs)

        return call

    def _part(self, method: str, args: tuple[Any, ...]) -> str | None:
        if not args or args[0] != self.name:
            return None
        if method == "set_registered_model_alias":
            return "alias"
        if method == "set_model_version_tag" and args[2] == STAGE_TAG:
            return {"2": "new tag", "1": "old tag"}[args[1]]
        return None


GROUP = ("alias", "new tag", "old tag")


@pytest.mark.parametrize(
    "lands", [set(c) for n in range(len(GROUP) + 1) for c in itertools.combinations(GROUP, n)]
)
def test_a_writer_dying_among_the_writes_it_sends_at_once_leaves_a_repairable_state(
    registry: Registry, mlflow_url: str, template: str, lands: set[str]
) -> None:
    """Whichever of the alias and the stage tags landed before the process died, the next
    process reads one champion, and its first write finishes the operation the record
    describes (an ordinary writer, then doctor, finds nothing left to do)."""
    with_two_champions_in_history(registry)
    store: Any = registry.store
    name = registry.model_name("1H")
    store.lookups.client = DyingInTheGroup(store.lookups.client, name, lands)
    if lands == set(GROUP):  # without the lock, no write follows them to die at
        registry.promote("1H", 2, "champion")
    else:
        with pytest.raises(Crash):
            registry.promote("1H", 2, "champion")

    survivor = fresh(mlflow_url, template, lease_seconds=0)
    assert len(champions(survivor)) == 1
    assert champions(survivor) == ([2] if "alias" in lands else [1])  # the alias decides
    survivor.register("1H", source=SOURCE)  # a registration has nothing to wait for
    survivor.promote("1H", 3, "beta")  # finishes the operation first
    assert champions(survivor) == [2]
    stages = {v.version: v.stage for v in survivor.list("1H")}
    assert stages == {1: Stage.ARCHIVED, 2: Stage.CHAMPION, 3: Stage.BETA}
    assert survivor.doctor() == []


def test_the_next_writer_finishes_an_interrupted_operation(
    registry: Registry, mlflow_url: str, template: str
) -> None:
    with_two_champions_in_history(registry)
    store: Any = registry.store
    store.lookups.client = DyingClient(store.lookups.client, dies_at=4)  # after the alias moved
    with pytest.raises(Crash):
        registry.promote("1H", 2, "champion")
    survivor = fresh(mlflow_url, template, lease_seconds=0)
    survivor.register("1H", source=SOURCE)
    survivor.promote("1H", 3, "beta")
    assert champions(survivor) == [2]
    assert survivor.doctor() == []


def test_a_writer_dying_while_finishing_another_hands_the_operation_on(
    registry: Registry, mlflow_url: str, template: str
) -> None:
    """The first writer dies after its record; the one that takes its lock over dies
    before moving the alias; the third finishes the first one's operation."""
    with_two_champions_in_history(registry)
    store: Any = registry.store
    store.lookups.client = DyingClient(store.lookups.client, dies_at=3)  # lock, record, alias
    with pytest.raises(Crash):
        registry.promote("1H", 2, "champion")
    second = fresh(mlflow_url, template, lease_seconds=0)
    finisher: Any = second.store
    # the lock (taken: clash, break, create), the fencing mark, the record again, then
    # the alias, which never happens
    finisher.lookups.client = DyingClient(finisher.lookups.client, dies_at=6)
    with pytest.raises(Crash):
        second.promote("1H", 1, "archived")
    third = fresh(mlflow_url, template, lease_seconds=0)
    third.register("1H", source=SOURCE)
    assert champions(third) == [2]
    assert third.doctor() == []


def test_a_live_lock_makes_writers_wait_then_give_up(
    registry: Registry, mlflow_url: str, template: str
) -> None:
    with_two_champions_in_history(registry)
    writer = fresh(mlflow_url, template, lease_seconds=PATHS["under the lock"][0])
    store: Any = writer.store
    store.lookups.client = DyingClient(store.lookups.client, dies_at=2)  # holds the lock, then dies
    with pytest.raises(Crash):
        writer.promote("1H", 2, "champion")
    impatient = fresh(mlflow_url, template, lease_seconds=3600, wait_seconds=0.3)
    with pytest.raises(LockTimeout, match="is being changed by another writer") as waited:
        impatient.promote("1H", 2, "champion")
    assert "waited 0.3 s" in waited.value.message
    assert waited.value.hint and re.search(r"its lease runs out in 3[56]\d\d s", waited.value.hint)
    [finding] = impatient.doctor()
    assert (finding.code, finding.fixed) == ("operation-in-progress", False)


def test_the_doctor_command_exits_1_until_repaired(
    registry: Registry, client: MlflowClient, cli_env: dict[str, str]
) -> None:
    with_two_champions_in_history(registry)
    client.set_model_version_tag(registry.model_name("1H"), "2", STAGE_TAG, "champion")
    runner = CliRunner()
    found = runner.invoke(app, ["doctor", "--json"])
    assert found.exit_code == 1
    assert json.loads(found.stdout)["data"]["healthy"] is False
    assert runner.invoke(app, ["doctor", "--fix"]).exit_code == 0
    healthy = runner.invoke(app, ["doctor", "--json"])
    assert (healthy.exit_code, json.loads(healthy.stdout)["data"]) == (
        0,
        {"healthy": True, "findings": []},
    )

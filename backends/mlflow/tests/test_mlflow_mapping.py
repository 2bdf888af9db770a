"""MLflow's own tools see the same truth as stagekeeper: alias, stage tags, history."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from mlflow.tracking import MlflowClient

from stagekeeper import Stage, TransitionError, ValidationError, open_registry
from stagekeeper.domain.model import StageChange
from stagekeeper.domain.stages import Cause
from stagekeeper.service.registry import Registry
from stagekeeper_mlflow import mapping
from stagekeeper_mlflow.history import FIRST_PAGE as HISTORY_FIRST_PAGE
from stagekeeper_mlflow.mapping import NO_POLICY_TAG, STAGE_TAG
from stagekeeper_mlflow.view import NEIGHBOURS

SOURCE = "s3://models/1h"


class CountingClient:
    """Wraps the store's registry client and counts its calls: one REST call each."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.inner, name)

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            return method(*args, **kwargs)

        return counted


@pytest.fixture
def counted(registry: Registry) -> Iterator[CountingClient]:
    store: Any = registry.store
    counter = CountingClient(store.lookups.client)
    store.lookups.client = counter
    yield counter
    store.lookups.client = counter.inner


def crown(registry: Registry, version: int, timeframe: str = "1H") -> None:
    registry.promote(timeframe, version, "beta")
    registry.promote(timeframe, version, "champion")


def test_the_champion_is_the_alias_that_mlflow_resolves(
    registry: Registry, client: MlflowClient
) -> None:
    for _ in range(2):
        registry.register("1H", source=SOURCE)
    crown(registry, 1)
    crown(registry, 2)
    name = registry.model_name("1H")
    assert client.get_model_version_by_alias(name, "champion").version in (2, "2")
    tagged = client.search_model_versions(f"name='{name}' AND tags.`{STAGE_TAG}`='champion'")
    assert [int(v.version) for v in tagged] == [2]
    assert client.get_model_version(name, "1").tags[STAGE_TAG] == "archived"


def test_the_deprecated_stage_api_is_left_alone(registry: Registry, client: MlflowClient) -> None:
    registry.register("1H", source=SOURCE)
    crown(registry, 1)
    version = client.get_model_version(registry.model_name("1H"), "1")
    assert version.current_stage == "None"


def test_a_version_mlflow_registered_by_itself_is_in_development(
    registry: Registry, client: MlflowClient
) -> None:
    name = registry.model_name("4H")
    client.create_registered_model(name)
    client.create_model_version(name, SOURCE)
    [version] = registry.list("4H")
    assert (version.version, version.stage) == (1, Stage.DEVELOPMENT)
    assert registry.history("4H") == []
    registry.promote("4H", 1, "beta")
    assert client.get_model_version(name, "1").tags[STAGE_TAG] == "beta"


def test_the_history_is_a_model_of_its_own(registry: Registry, client: MlflowClient) -> None:
    """One version per operation, numbered in order, on a model the template cannot name;
    the timeframe's model keeps no history in its tags, so it does not grow with it."""
    registry.register("1H", source=SOURCE)
    registry.promote("1H", 1, "beta", reason="validated", actor="ana")
    name = registry.model_name("1H")
    versions = client.search_model_versions(
        f"name='stagekeeper history of {name}'", order_by=["version_number ASC"]
    )
    records = [json.loads(v.tags["stagekeeper.record"]) for v in versions]
    assert [r["changes"][0]["to"] for r in records] == ["development", "beta"]
    assert (records[1]["actor"], records[1]["reason"]) == ("ana", "validated")
    assert versions[1].tags["stagekeeper.moved.1"] == "yes"
    assert list(client.get_registered_model(name).tags) == [NO_POLICY_TAG]  # and no history
    assert [v.timeframe for v in registry.list()] == ["1H"]


def test_history_written_in_the_models_tags_is_read_first(
    registry: Registry, client: MlflowClient
) -> None:
    """A model whose history an older stagekeeper kept in its tags: those records come
    first, and everything that reads the history reads them."""
    name = registry.model_name("1H")
    client.create_registered_model(name)
    for _ in range(2):
        client.create_model_version(name, SOURCE, tags={STAGE_TAG: "development"})
    at = datetime(2026, 1, 1, tzinfo=UTC)
    crowned = datetime(2026, 1, 2, tzinfo=UTC)
    older = [
        _change(name, 1, None, Stage.DEVELOPMENT, "registration", at, "op1"),
        _change(name, 2, None, Stage.DEVELOPMENT, "registration", at, "op2"),
        _change(name, 1, Stage.DEVELOPMENT, Stage.CHAMPION, "forced", crowned, "op3"),
    ]
    for index, change in enumerate(older):
        key = f"stagekeeper.history.{index:017d}.{change.operation_id}"
        client.set_registered_model_tag(name, key, mapping.encode_history([change]))
    client.set_model_version_tag(name, "1", STAGE_TAG, "champion")
    client.set_registered_model_alias(name, "champion", "1")

    assert registry.get("1H", 1).updated_at == crowned  # type: ignore[union-attr]
    assert [v.updated_at for v in registry.list("1H", "champion")] == [crowned]
    registry.promote("1H", 2, "beta")
    registry.promote("1H", 2, "champion")
    assert [c.version for c in registry.rollback("1H")] == [2, 1]  # crowned in the tags
    ops = list(dict.fromkeys(c.operation_id for c in registry.history("1H")))
    assert ops[:3] == ["op1", "op2", "op3"] and len(ops) == 6
    assert [e.sequence for e in registry.events("1H")] == list(range(1, 7))
    assert registry.doctor() == []


def test_a_model_deleted_by_hand_leaves_no_history_to_its_successor(
    registry: Registry, client: MlflowClient
) -> None:
    """The model deleted in MLflow, then registered again under its name: the new model's
    history starts empty, and its numbers are not the old model's former champions. The
    old history is kept, set aside under a name of its own."""
    for _ in range(2):
        registry.register("1H", source=SOURCE)
    crown(registry, 1)
    crown(registry, 2)  # the old model's 1: archived, a former champion
    name = registry.model_name("1H")
    client.delete_registered_model(name)

    for _ in range(2):
        registry.register("1H", source=SOURCE)
    registry.promote("1H", 1, "archived")  # never champion in this model
    crown(registry, 2)
    assert [c.to_stage for c in registry.history("1H", 1)] == [Stage.DEVELOPMENT, Stage.ARCHIVED]
    with pytest.raises(TransitionError, match="no archived former champion"):
        registry.rollback("1H")
    [aside] = client.search_registered_models(f"name LIKE 'stagekeeper history of {name}, %'")
    assert aside.name.startswith(f"stagekeeper history of {name}, set aside ")
    assert len(client.search_model_versions(f"name='{aside.name}'")) == 6
    assert registry.doctor() == []


def test_a_cursor_into_a_deleted_models_history_skips_none_of_its_successors_events(
    registry: Registry, client: MlflowClient
) -> None:
    """The successor's history starts over, and a deployer's cursor into the old one stood
    past its first events: it must still be handed them, the new champion among them."""
    for _ in range(3):
        registry.register("1H", source=SOURCE)
    crown(registry, 3)
    cursor = registry.events("1H")[-1].cursor  # after the 5th event
    client.delete_registered_model(registry.model_name("1H"))

    registry.register("1H", source=SOURCE)
    crown(registry, 1)
    resumed = registry.events("1H", since=cursor)
    assert [(e.sequence, e.type.value, e.main.version) for e in resumed] == [
        (1, "registered", 1), (2, "promoted", 1), (3, "champion_changed", 1)
    ]  # fmt: skip
    assert registry.events("1H", since=resumed[-1].cursor) == []


def _change(
    name: str, version: int, old: Stage | None, new: Stage, cause: str, at: datetime, op: str
) -> StageChange:
    return StageChange(op, "1H", name, version, old, new, None, "old", at, Cause(cause))


def test_registering_needs_a_source_and_takes_no_number(registry: Registry) -> None:
    with pytest.raises(ValidationError, match="--source"):
        registry.register("1H")
    with pytest.raises(ValidationError, match="numbers model versions itself"):
        registry.register("1H", version=5, source=SOURCE)
    assert registry.list("1H") == []


def test_listing_by_stage_costs_the_same_for_many_versions(
    registry: Registry, counted: CountingClient
) -> None:
    for _ in range(30):
        registry.register("1H", source=SOURCE)
    for version in range(1, 21):
        registry.promote("1H", version, "beta")
    counted.calls.clear()
    assert len(registry.list("1H", "beta")) == 20
    # The model, a search per page of versions, and the newest records of the history
    # for their updated_at: the 20 promotions.
    assert counted.calls == {"get_registered_model": 1, "search_model_versions": 2}


@pytest.mark.parametrize("betas", [3, 7])  # searched one by one, or read in pages
def test_a_listing_reads_updated_at_past_the_newest_records(registry: Registry, betas: int) -> None:
    for _ in range(betas):
        registry.register("1H", source=SOURCE)
    moved = {v: registry.promote("1H", v, "beta")[0].at for v in range(1, betas + 1)}
    for _ in range(HISTORY_FIRST_PAGE + 5):  # their records are no longer the newest
        registry.register("1H", source=SOURCE)
    assert {v.version: v.updated_at for v in registry.list("1H", "beta")} == moved


def test_rest_calls_of_each_operation(registry: Registry, counted: CountingClient) -> None:
    """The numbers the README promises."""
    registry.register("1H", source=SOURCE)
    assert sum(counted.calls.values()) == 10  # the first one also creates the two models,
    # after setting aside a history its name may have outlived, and reads the settings model
    # after creating the model (a policy set meanwhile)
    counted.calls.clear()
    registry.register("1H", source=SOURCE)
    assert sum(counted.calls.values()) == 4  # lock, create version, record, unlock
    counted.calls.clear()
    # No lock (decision record 18): the history's end first (this store has not written a
    # record of 1H yet); then the model with the policy, the lock (to see it is not held),
    # the version (not when it last moved: no planner asks); the record, the tag
    registry.promote("1H", 1, "beta")
    assert sum(counted.calls.values()) == 6
    assert counted.calls["search_registered_models"] == 1
    assert "create_registered_model" not in counted.calls  # no lock taken
    counted.calls.clear()
    # The history's end as this store left it: no read of it. The model, the lock, the
    # version; the record, the alias, one tag
    registry.promote("1H", 1, "champion")
    assert sum(counted.calls.values()) == 6
    counted.calls.clear()
    registry.promote("1H", 2, "beta")
    assert sum(counted.calls.values()) == 5  # the model, the lock, the version; record, tag
    counted.calls.clear()
    registry.promote("1H", 2, "champion")  # crowns 2 and archives 1: + tag
    assert sum(counted.calls.values()) == 7  # the version and the champion in one search
    assert counted.calls["search_model_versions"] == 1  # and nothing of the history
    # the model alone, by a get: it says that no policy is set (no settings model to
    # read); and the lock, by a get
    assert counted.calls["get_registered_model"] == 2
    assert "search_registered_models" not in counted.calls
    assert counted.calls["set_registered_model_alias"] == 1
    counted.calls.clear()
    registry.rollback("1H")
    assert sum(counted.calls.values()) == 9  # + the crownings, + the previous champion
    counted.calls.clear()
    registry.history("1H")
    assert sum(counted.calls.values()) == 2  # the model, and the records: one page
    counted.calls.clear()
    registry.list("1H", "archived")
    assert sum(counted.calls.values()) == 4
    counted.calls.clear()
    registry.set_policy({"beta": {"approvals": 1}})
    # mark the settings model (which fails, then creates it), list the models, take the
    # 1H model's no-policy tag away, write the policy
    assert sum(counted.calls.values()) == 3 + 1 + 1 + 1
    counted.calls.clear()
    registry.set_policy({"beta": {"approvals": 2}})
    assert sum(counted.calls.values()) == 3  # mark, list, write


def test_a_champion_far_from_the_candidate_is_read_on_its_own(
    registry: Registry, counted: CountingClient
) -> None:
    for _ in range(NEIGHBOURS + 1):
        registry.register("1H", source=SOURCE)
    far = NEIGHBOURS + 1
    for version in (1, far):  # NEIGHBOURS apart: too far for one search
        registry.promote("1H", version, "beta")
    registry.promote("1H", 1, "champion")
    counted.calls.clear()
    registry.promote("1H", far, "champion")
    assert sum(counted.calls.values()) == 8 and counted.calls["get_model_version"] == 2
    assert [(v.version, v.stage.value) for v in registry.list("1H", "champion")] == [
        (far, "champion")
    ]
    assert registry.get("1H", 1).stage is Stage.ARCHIVED  # type: ignore[union-attr]


def test_the_history_grows_at_its_end_whatever_the_writers_clocks(
    registry: Registry, mlflow_url: str, template: str
) -> None:
    """A writer whose clock is an hour ahead records a promotion; a registration made after
    it, keyed by MLflow's own (earlier) time, must still come after it: a reader that has
    read the promotion would otherwise never see the registration."""
    registry.register("1H", source=SOURCE)
    ahead = open_registry(
        mlflow_url,
        actor="ahead",
        model_name_template=template,
        clock=lambda: datetime.now(UTC) + timedelta(hours=1),
    )
    with ahead:
        ahead.promote("1H", 1, "beta")
    registry.register("1H", source=SOURCE)
    registry.promote("1H", 2, "beta")  # this writer's clock: behind the newest record too
    kinds = [(e.type.value, e.main.version) for e in registry.events("1H")]
    assert kinds == [("registered", 1), ("promoted", 1), ("registered", 2), ("promoted", 2)]

"""The service on the in-memory store: inputs, identities, naming and the retry on races."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from stagekeeper import Stage, ValidationError, open_registry
from stagekeeper.adapters.memory import MemoryStore
from stagekeeper.service.registry import Registry


@pytest.fixture
def registry() -> Iterator[Registry]:
    with open_registry("memory://", actor="tester") as registry:
        yield registry


def _unchanged(registry: Registry) -> tuple[object, object]:
    return registry.list(), registry.history()


@pytest.mark.parametrize("timeframe", ["", "1 H", "1H!", "x" * 33, "../1H", None, 1])
def test_a_malformed_timeframe_is_refused_and_changes_nothing(
    registry: Registry, timeframe: object
) -> None:
    before = _unchanged(registry)
    with pytest.raises(ValidationError, match="invalid timeframe"):
        registry.register(timeframe)  # type: ignore[arg-type]
    assert _unchanged(registry) == before


@pytest.mark.parametrize("timeframe", ["1M", "15M", "1H", "4h", "1D", "1W", "x" * 32, "a_b-c"])
def test_timeframes_keep_their_case(registry: Registry, timeframe: str) -> None:
    assert registry.register(timeframe).timeframe == timeframe


@pytest.mark.parametrize("version", [0, -1, "0", "one", "1.5", "", True, 1.0])
def test_a_malformed_version_is_refused(registry: Registry, version: object) -> None:
    registry.register("1H")
    with pytest.raises(ValidationError, match="invalid model version"):
        registry.promote("1H", version, Stage.BETA)  # type: ignore[arg-type]
    assert registry.get("1H", 1).stage is Stage.DEVELOPMENT


def test_a_version_may_be_given_as_a_string_of_digits(registry: Registry) -> None:
    registry.register("1H")
    registry.promote("1H", " 1", "BETA")
    assert registry.get("1H", "1").stage is Stage.BETA


@pytest.mark.parametrize("stage", ["prod", "", "champions", None])
def test_an_unknown_stage_is_refused_naming_the_stages(registry: Registry, stage: object) -> None:
    registry.register("1H")
    with pytest.raises(ValidationError, match="development, beta, champion, archived"):
        registry.promote("1H", 1, stage)  # type: ignore[arg-type]
    if stage is not None:  # for list, no stage means every stage
        with pytest.raises(ValidationError):
            registry.list(stage=stage)  # type: ignore[arg-type]


def test_a_reason_longer_than_2000_characters_is_refused(registry: Registry) -> None:
    registry.register("1H")
    before = _unchanged(registry)
    with pytest.raises(ValidationError, match="at most 2,000"):
        registry.promote("1H", 1, "beta", reason="x" * 2001)
    assert _unchanged(registry) == before
    assert registry.promote("1H", 1, "beta", reason="x" * 2000)[0].reason == "x" * 2000


@pytest.mark.parametrize("limit", [0, -3])
def test_a_history_limit_must_be_positive(registry: Registry, limit: int) -> None:
    with pytest.raises(ValidationError, match="invalid limit"):
        registry.history(limit=limit)


def test_the_actor_comes_from_the_call_then_the_registry(registry: Registry) -> None:
    registry.register("1H")
    registry.promote("1H", 1, "beta", actor="ana")
    assert [c.actor for c in registry.history()] == ["tester", "ana"]


def test_the_actor_defaults_to_stagekeeper_actor(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STAGEKEEPER_ACTOR", "pipeline-7")
    with open_registry("memory://") as registry:
        registry.register("1H")
        assert registry.history()[0].actor == "pipeline-7"


def test_the_model_name_template_is_configurable() -> None:
    with open_registry("memory://", model_name_template="btc-{timeframe}") as registry:
        assert registry.register("4H").model_name == "btc-4H"
    with pytest.raises(ValidationError, match="must contain"):
        open_registry("memory://", model_name_template="fixed_name")


def test_the_clock_stamps_every_change() -> None:
    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    with open_registry("memory://", clock=lambda: moment) as registry:
        version = registry.register("1H")
        assert (version.created_at, registry.history()[0].at) == (moment, moment)


def test_a_writer_waits_for_the_lock_and_plans_from_what_the_first_committed() -> None:
    """The second promoter plans only once the first has committed, so it demotes the
    champion the first one crowned: no stale plan, no retry, no give-up."""
    inside, go_on = threading.Event(), threading.Event()

    def clock() -> datetime:  # read inside the planner, under the lock
        if threading.current_thread().name == "first":
            inside.set()
            go_on.wait(5)
        return datetime.now(UTC)

    registry = Registry(MemoryStore(), clock=clock)
    for version in (1, 2):
        registry.register("1H")
        registry.promote("1H", version, "beta")
    results: dict[str, list[tuple[int, Stage]]] = {}

    def crown(version: int) -> None:
        changes = registry.promote("1H", version, "champion")
        results[threading.current_thread().name] = [(c.version, c.to_stage) for c in changes]

    first = threading.Thread(target=crown, args=(1,), name="first")
    second = threading.Thread(target=crown, args=(2,), name="second")
    first.start()
    assert inside.wait(5)
    second.start()  # waits for the lock the first one holds
    go_on.set()
    first.join(5)
    second.join(5)
    assert results == {
        "first": [(1, Stage.CHAMPION)],
        "second": [(1, Stage.ARCHIVED), (2, Stage.CHAMPION)],
    }


def test_the_model_name_template_can_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STAGEKEEPER_MODEL_NAME_TEMPLATE", "{timeframe}_btc")
    with open_registry("memory://") as registry:
        assert registry.register("1D").model_name == "1D_btc"


def test_automatic_numbers_stop_at_the_highest_every_store_keeps() -> None:
    with open_registry("memory://", actor="ana") as registry:
        registry.register("1H", 2_147_483_647)
        with pytest.raises(ValidationError, match="reached version 2,147,483,647"):
            registry.register("1H")
        assert [v.version for v in registry.list("1H")] == [2_147_483_647]


def test_verified_approvals_compare_identities_not_declared_names() -> None:
    from datetime import timedelta

    from stagekeeper.domain.approvals import ApprovalRequest
    from stagekeeper.domain.identity import Identity

    now = datetime.now(UTC)
    request = ApprovalRequest(
        id="r1", timeframe="1H", model_name="m", version=2, from_stage=Stage.BETA,
        target=Stage.CHAMPION, requester="ana", reason=None, requested_at=now,
        expires_at=now + timedelta(days=1), needed=1, identity="ana",
    )  # fmt: skip
    ana, bob = Identity("ana", "postgresql"), Identity("bob", "postgresql")
    assert "asked for this move" in str(request.approval_refusal("bob", now, ana, True))
    assert "verifies no one" in str(request.approval_refusal("bob", now, None, True))
    declared = Identity.declared("bob")
    assert "verifies no one" in str(request.approval_refusal("bob", now, declared, True))
    assert request.approval_refusal("ana", now, bob, True) is None  # the label is no proof
    assert "asked for this move" in str(request.approval_refusal("ana", now, bob, False))

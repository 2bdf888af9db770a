"""The one write path: every committed operation is checked, committed and published once;
a refused one publishes nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from stagekeeper import Cause, Stage, TransitionError, open_registry
from stagekeeper.domain.model import Committed
from stagekeeper.service.registry import Registry


class Published(list[Committed]):
    def __call__(self, committed: Committed) -> None:
        self.append(committed)

    def causes(self) -> list[list[Cause]]:
        return [[change.cause for change in op.changes] for op in self]


@pytest.fixture(params=["memory", "sqlite"])
def published_registry(
    request: pytest.FixtureRequest, tmp_path: Path
) -> tuple[Registry, Published]:
    published = Published()
    url = "memory://" if request.param == "memory" else f"sqlite:///{tmp_path / 'w.db'}"
    return open_registry(url, actor="ana", publish=published), published


def test_every_committed_operation_is_published_exactly_once(
    published_registry: tuple[Registry, Published],
) -> None:
    registry, published = published_registry
    for _ in range(2):
        registry.register("1H")
    for version in (1, 2):
        registry.promote("1H", version, "beta")
        registry.promote("1H", version, "champion")
    registry.rollback("1H")
    assert published.causes() == [
        [Cause.REGISTRATION],
        [Cause.REGISTRATION],
        [Cause.PROMOTION],
        [Cause.PROMOTION],
        [Cause.PROMOTION],
        [Cause.AUTO_DEMOTION, Cause.PROMOTION],
        [Cause.ROLLBACK, Cause.ROLLBACK],
    ]
    assert [op.changes for op in published[2:]] == [
        tuple(c for c in registry.history("1H") if c.operation_id == op.operation_id)
        for op in published[2:]
    ]
    assert published[0].version is not None and published[0].version.version == 1


def test_a_refused_or_empty_operation_publishes_nothing(
    published_registry: tuple[Registry, Published],
) -> None:
    registry, published = published_registry
    registry.register("1H")
    published.clear()
    with pytest.raises(TransitionError):
        registry.promote("1H", 1, "champion")
    assert registry.promote("1H", 1, "development") == []
    assert published == []


def test_a_repair_goes_through_the_write_path(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'drift.db'}"
    published = Published()
    registry = open_registry(url, actor="ana", publish=published)
    registry.register("1H")
    with create_engine(url).begin() as connection:  # a change made outside stagekeeper
        connection.execute(text("UPDATE stagekeeper_versions SET stage = 'beta'"))
    published.clear()
    [finding] = registry.doctor(fix=True)
    assert finding.fixed
    assert published.causes() == [[Cause.REPAIR]]
    assert published[0].changes[0].to_stage is Stage.BETA
    assert registry.doctor() == []


def test_a_failing_listener_never_turns_a_committed_operation_into_a_failure() -> None:
    def broken(_committed: Committed) -> None:
        raise RuntimeError("listener down")

    registry = open_registry("memory://", publish=broken)
    with pytest.warns(UserWarning, match="was committed, but publishing it failed"):
        version = registry.register("1H")
    assert registry.get("1H", version.version).stage is Stage.DEVELOPMENT


def test_a_registrations_time_and_id_are_taken_under_the_stores_lock() -> None:
    """As every operation's are: the registration's place in the history is its commit's."""
    from stagekeeper.adapters.memory import MemoryStore
    from stagekeeper.service.registry import Registry

    store = MemoryStore()
    held: list[bool] = []

    def clock() -> datetime:
        held.append(store._lock._is_owned())  # type: ignore[attr-defined]
        return datetime.now(UTC)

    registry = Registry(store, actor="ana", clock=clock)
    registry.register("1H")
    registry.promote("1H", 1, "beta")
    assert held == [True, True]

"""The contract's part on delivery cursors: how far each event sink has received the stream,
kept in the store for every worker. ``RegistryContract`` includes it."""

from __future__ import annotations

import pytest

from stagekeeper.service.registry import Registry
from stagekeeper.testing.base import ContractBase, RegistryFactory


class CursorsContract(ContractBase):
    """Each sink's cursor (the store's cursors role)."""

    def test_a_sink_starts_with_no_cursor(self, registry: Registry) -> None:
        assert registry.store.delivered("hook") is None

    def test_a_cursor_is_kept_per_sink_and_replaced(self, registry: Registry) -> None:
        self.new(registry)
        first = registry.events()[-1].cursor
        registry.store.mark_delivered("hook", first)
        self.new(registry)
        second = registry.events()[-1].cursor
        registry.store.mark_delivered("chat", second)
        assert (registry.store.delivered("hook"), registry.store.delivered("chat")) == (
            first,
            second,
        )
        registry.store.mark_delivered("hook", second)
        assert registry.store.delivered("hook") == second

    def test_a_cursor_is_seen_by_every_worker(self, registry_factory: RegistryFactory) -> None:
        with registry_factory() as one, registry_factory() as other:
            self.new(one)
            cursor = one.events()[-1].cursor
            one.store.mark_delivered("hook-1.team_a", cursor)
            assert other.store.delivered("hook-1.team_a") == cursor

    @pytest.mark.parametrize("name", ["x" * 64, "a.b_c-d"])
    def test_every_sink_name_the_workers_accept_can_be_kept(
        self, registry: Registry, name: str
    ) -> None:
        self.new(registry)
        cursor = registry.events()[-1].cursor
        registry.store.mark_delivered(name, cursor)
        assert registry.store.delivered(name) == cursor

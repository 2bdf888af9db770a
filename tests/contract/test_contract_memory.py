"""The in-memory store, the reference implementation, passes the backend contract."""

from __future__ import annotations

import pytest

from stagekeeper.adapters.memory import MemoryStore
from stagekeeper.service.registry import Registry
from stagekeeper.testing.contract import RegistryContract, RegistryFactory


class TestMemoryStore(RegistryContract):
    @pytest.fixture
    def registry_factory(self) -> RegistryFactory:
        store = MemoryStore()  # registries of one test share it, like processes share a file
        return lambda: Registry(store, actor="tester")

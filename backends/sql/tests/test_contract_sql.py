"""The SQL stores pass the backend contract: embedded SQLite and a real PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from stagekeeper import open_registry
from stagekeeper.testing.contract import RegistryContract, RegistryFactory


class TestSqliteStore(RegistryContract):
    @pytest.fixture
    def registry_factory(self, tmp_path: Path) -> RegistryFactory:
        url = f"sqlite:///{tmp_path / 'stagekeeper.db'}"
        return lambda: open_registry(url, actor="tester")


@pytest.mark.postgres
class TestPostgresStore(RegistryContract):
    @pytest.fixture
    def registry_factory(self, postgres_url: str) -> RegistryFactory:
        return lambda: open_registry(postgres_url, actor="tester")

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


@pytest.mark.postgres
def test_postgresql_records_who_it_authenticated(postgres_url: str) -> None:
    """A request and its approvals carry the database user beside the declared actor."""
    with open_registry(postgres_url, actor="ann") as registry:
        login = registry.store.identity()
        assert login is not None and login.source == "postgresql"
        database_user = login.name  # the test cluster's role, whatever it is called
        registry.set_policy({"beta": {"approvals": 1}})
        version = registry.register("1H")
        registry.promote("1H", version.version, "beta")
        request = registry.pending_request("1H", version.version, "beta")
        assert request is not None and request.identity == database_user
        registry.approve(request.id, actor="bob")
        [done] = registry.requests("1H", pending_only=False)
        assert [(a.actor, a.identity) for a in done.approvals] == [("bob", database_user)]
        assert {change.identity for change in registry.history("1H")} == {login}


def test_sqlite_authenticates_nobody(tmp_path: Path) -> None:
    with open_registry(f"sqlite:///{tmp_path / 'a.db'}") as registry:
        assert registry.store.identity() is None

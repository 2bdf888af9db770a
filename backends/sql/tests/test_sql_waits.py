"""A writer waits for a timeframe's write lock for the store's lock timeout, then says who
it waited for and how long, in stagekeeper's words, and changes nothing."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from stagekeeper import LockTimeout, ValidationError, open_registry
from stagekeeper.cli.app import app
from stagekeeper.service.ports import ChangeNotifying


def _prepared(url: str) -> None:
    with open_registry(url, actor="ana") as registry:
        registry.register("1H")


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'waits.db'}"
    _prepared(url)
    return url


@pytest.fixture
def sqlite_writer_frozen(sqlite_url: str) -> Iterator[None]:
    """Another process's write transaction, left open: it holds SQLite's write lock."""
    connection = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), isolation_level=None)
    connection.execute("BEGIN IMMEDIATE")
    yield
    connection.execute("ROLLBACK")
    connection.close()


@pytest.fixture
def postgres_writer_frozen(postgres_url: str) -> Iterator[str]:
    """Another writer inside its transaction, holding the 1H timeframe's row lock."""
    import psycopg
    from sqlalchemy.engine import make_url

    _prepared(postgres_url)
    raw = make_url(postgres_url).set(drivername="postgresql").render_as_string(False)
    with psycopg.connect(raw) as connection:
        connection.execute("SELECT name FROM stagekeeper_timeframes WHERE name = '1H' FOR UPDATE")
        yield postgres_url
        connection.rollback()


def _refused_within(url: str, seconds: float) -> LockTimeout:
    with open_registry(url, lock_timeout=seconds) as registry:
        started = time.monotonic()
        with pytest.raises(LockTimeout) as refused:
            registry.promote("1H", 1, "beta")
        assert seconds <= time.monotonic() - started < seconds + 5
    return refused.value


def test_a_frozen_sqlite_writer_makes_others_wait_then_explains(
    sqlite_url: str, sqlite_writer_frozen: None
) -> None:
    error = _refused_within(sqlite_url, 0.5)
    assert error.message.startswith("waited 0.5 s for the write lock of SQLite database ")
    assert error.message.endswith(
        "another writer holds it (SQLite locks the whole file, whichever timeframe it changes)"
    )  # not "1H is being changed": the frozen writer may be writing any timeframe
    assert error.hint and "STAGEKEEPER_LOCK_TIMEOUT" in error.hint


@pytest.mark.postgres
def test_a_frozen_postgres_writer_makes_others_wait_then_explains(
    postgres_writer_frozen: str,
) -> None:
    error = _refused_within(postgres_writer_frozen, 0.5)
    assert error.message == (
        "waited 0.5 s for the write lock of 1H: another session holds it (a writer of 1H, "
        "or a lock on the store's tables)"
    )
    with open_registry(postgres_writer_frozen) as registry:
        assert registry.get("1H", 1).stage.value == "development"


@pytest.mark.postgres
def test_a_read_behind_a_table_lock_taken_by_hand_is_bounded_and_says_so(
    postgres_url: str,
) -> None:
    import psycopg
    from sqlalchemy.engine import make_url

    _prepared(postgres_url)
    raw = make_url(postgres_url).set(drivername="postgresql").render_as_string(False)
    with psycopg.connect(raw) as outside:
        outside.execute("LOCK TABLE stagekeeper_versions IN ACCESS EXCLUSIVE MODE")
        with open_registry(postgres_url, lock_timeout=0.5) as registry:
            started = time.monotonic()
            with pytest.raises(LockTimeout) as refused:
                registry.status()
            assert time.monotonic() - started < 5.5
        outside.rollback()
    assert refused.value.message.startswith(
        "waited 0.5 s to read the store: another session holds a lock on its tables"
    )


def test_the_cli_reports_a_lock_timeout_in_one_line(
    sqlite_url: str, sqlite_writer_frozen: None
) -> None:
    result = CliRunner().invoke(
        app,
        ["promote", "--timeframe", "1H", "--model-version", "1", "--target-stage", "beta",
         "--store", sqlite_url, "--json"],
        env={"STAGEKEEPER_LOCK_TIMEOUT": "0.3"},
    )  # fmt: skip
    assert result.exit_code == 1
    assert json.loads(result.stdout)["error"]["code"] == "lock_timeout"
    assert result.stderr.count("\n") == 1 and "database is locked" not in result.stderr


@pytest.mark.parametrize("value", ["0", "-1", "soon", "1e9"])
def test_a_bad_lock_timeout_is_refused(value: str) -> None:
    with pytest.raises(ValidationError, match="invalid lock timeout"):
        open_registry("memory://", lock_timeout=value)  # type: ignore[arg-type]


@pytest.mark.postgres
def test_a_follower_on_postgresql_is_told_of_each_commit(postgres_url: str) -> None:
    """LISTEN/NOTIFY: the changes trigger (migration 0006) wakes a waiting follower."""
    with open_registry(postgres_url, actor="a") as follower, open_registry(postgres_url) as writer:
        store = follower.store
        assert isinstance(store, ChangeNotifying)
        assert store.wait_for_changes(0.2) is False  # listening now; nothing happened
        writer.register("1H")
        assert store.wait_for_changes(30) is True
        writer.set_policy({"beta": {"require_reason": True}})  # not history: no event
        assert store.wait_for_changes(0.2) is False
        writer.promote("1H", 1, "beta", reason="validated")
        assert store.wait_for_changes(30) is True


def _listening_connections(postgres_url: str) -> int:
    """The connections LISTENing on the server now (pg_stat_activity names the query)."""
    with open_registry(postgres_url) as admin:
        engine: Any = admin.store.engine  # type: ignore[attr-defined]
        with engine.connect() as connection:
            query = "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'LISTEN %%'"
            return int(connection.exec_driver_sql(query).scalar_one())


@pytest.mark.postgres
def test_waits_from_many_threads_share_one_listener_and_none_outlives_the_store(
    postgres_url: str,
) -> None:
    """A console's live pages wait from many threads, and one may still wait as the store
    closes: one LISTEN connection at most, and none left once closed."""
    before = _listening_connections(postgres_url)
    registry = open_registry(postgres_url)
    store: Any = registry.store
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda _: store.wait_for_changes(0.3), range(4)))
    assert _listening_connections(postgres_url) == before + 1
    registry.close()
    assert store.wait_for_changes(0.1) is False  # a wait after the close opens nothing
    assert _listening_connections(postgres_url) == before

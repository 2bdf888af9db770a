"""What only the SQL stores promise: schema versioning, SQLite's WAL, the database's own
guard of the one-champion rule, and many processes promoting at once."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError

from stagekeeper import BackendError, Stage, ValidationError, open_registry
from stagekeeper_sql import migrate
from stagekeeper_sql.schema import HEAD_REVISION, VERSION_TABLE

COMMAND = str(Path(sys.executable).parent / "stagekeeper")


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'models.db'}"


def test_head_revision_matches_the_migrations() -> None:
    head = ScriptDirectory.from_config(migrate.alembic_config()).get_current_head()
    assert head == HEAD_REVISION


def test_a_new_sqlite_store_is_created_in_wal_mode(tmp_path: Path, sqlite_url: str) -> None:
    open_registry(sqlite_url).close()
    with sqlite3.connect(tmp_path / "models.db") as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        revision = connection.execute(f"SELECT version_num FROM {VERSION_TABLE}").fetchone()
    assert revision == (HEAD_REVISION,)


def test_an_older_schema_is_refused_with_the_upgrade_command(
    tmp_path: Path, sqlite_url: str
) -> None:
    open_registry(sqlite_url).close()
    with sqlite3.connect(tmp_path / "models.db") as connection:  # as 0008 left it
        connection.execute(f"UPDATE {VERSION_TABLE} SET version_num = '0008'")
        connection.execute("DROP TABLE stagekeeper_tokens")
    with pytest.raises(BackendError, match="revision 0008") as refused:
        open_registry(sqlite_url)
    assert "stagekeeper db upgrade" in str(refused.value.hint)
    shown = subprocess.run(
        [COMMAND, "status", "--store", sqlite_url], capture_output=True, text=True
    )
    assert shown.returncode == 3 and "stagekeeper db upgrade" in shown.stderr
    upgrade = subprocess.run(
        [COMMAND, "db", "upgrade", "--store", sqlite_url, "--json"], capture_output=True, text=True
    )
    assert json.loads(upgrade.stdout) == {"data": {"revision": HEAD_REVISION}}
    with open_registry(sqlite_url) as registry:
        assert registry.register("1H").version == 1


def test_a_store_written_by_a_newer_stagekeeper_names_the_version_to_install(
    tmp_path: Path, sqlite_url: str
) -> None:
    open_registry(sqlite_url).close()
    with sqlite3.connect(tmp_path / "models.db") as connection:  # as a later release leaves it
        connection.execute(f"UPDATE {VERSION_TABLE} SET version_num = '0042'")
        connection.execute("UPDATE stagekeeper_meta SET value = '0.9.1' WHERE key = 'written_by'")
    for command in ("status", "db upgrade"):
        shown = subprocess.run(
            [COMMAND, *command.split(), "--store", sqlite_url],
            capture_output=True, text=True,
        )  # fmt: skip
        assert shown.returncode == 3, shown.stderr
        assert "was written by a newer stagekeeper (schema revision 0042;" in shown.stderr
        assert "install stagekeeper-sql>=0.9.1" in shown.stderr
        assert "db upgrade" not in shown.stderr.partition("hint")[2]
    with sqlite3.connect(tmp_path / "models.db") as connection:
        assert connection.execute(f"SELECT version_num FROM {VERSION_TABLE}").fetchone() == (
            "0042",
        )  # the newer store untouched


def test_db_upgrade_creates_the_schema_in_an_empty_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    upgrade = subprocess.run(
        [COMMAND, "db", "upgrade", "--store", url, "--json"], capture_output=True, text=True
    )
    assert json.loads(upgrade.stdout) == {"data": {"revision": HEAD_REVISION}}
    with open_registry(url) as registry:
        assert registry.register("1H").version == 1


def test_the_database_itself_refuses_a_second_champion(sqlite_url: str) -> None:
    with open_registry(sqlite_url) as registry:
        for _ in range(2):
            number = registry.register("1H").version
            registry.promote("1H", number, Stage.BETA)
        registry.promote("1H", 1, Stage.CHAMPION)
    engine = create_engine(sqlite_url)
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(
            text("UPDATE stagekeeper_versions SET stage = 'champion' WHERE version = 2")
        )
    engine.dispose()


def _crown_in_processes(url: str, writers: int) -> list[int]:
    with open_registry(url) as registry:
        for number in range(1, writers + 1):
            registry.register("1H")
            registry.promote("1H", number, Stage.BETA)

    def crown(number: int) -> int:
        args = ["promote", "--timeframe", "1H", "--model-version", str(number)]
        return subprocess.run(
            [COMMAND, *args, "--target-stage", "champion", "--store", url],
            capture_output=True,
            text=True,
        ).returncode

    with ThreadPoolExecutor(writers) as pool:
        return list(pool.map(crown, range(1, writers + 1)))


def _assert_one_champion(url: str, writers: int) -> None:
    with open_registry(url) as registry:
        stages = [v.stage for v in registry.list("1H")]
        crowned = [c for c in registry.history("1H") if c.to_stage is Stage.CHAMPION]
    assert stages.count(Stage.CHAMPION) == 1
    assert stages.count(Stage.ARCHIVED) == writers - 1
    assert len(crowned) == writers


def test_processes_promoting_at_once_leave_one_champion_on_sqlite(sqlite_url: str) -> None:
    assert _crown_in_processes(sqlite_url, 6) == [0] * 6
    _assert_one_champion(sqlite_url, 6)


@pytest.mark.postgres
def test_processes_promoting_at_once_leave_one_champion_on_postgres(postgres_url: str) -> None:
    assert _crown_in_processes(postgres_url, 6) == [0] * 6
    _assert_one_champion(postgres_url, 6)


@pytest.mark.postgres
def test_postgres_opens_a_fresh_database_from_many_processes_at_once(postgres_url: str) -> None:
    def register(_: int) -> int:
        return subprocess.run(
            [COMMAND, "register", "--timeframe", "1H", "--store", postgres_url],
            capture_output=True,
        ).returncode

    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(register, range(4))) == [0] * 4
    with open_registry(postgres_url) as registry:
        assert [v.version for v in registry.list("1H")] == [1, 2, 3, 4]


def test_a_timeframe_keeps_the_model_name_it_was_first_registered_with(url: str) -> None:
    with open_registry(url, actor="ana") as registry:
        registry.register("1H")
    template = "{timeframe}_other_model"
    with open_registry(url, actor="ana", model_name_template=template) as registry:
        before = (registry.list(), registry.history())
        with pytest.raises(ValidationError, match="model is '1H_trading_model' in this store"):
            registry.register("1H")
        assert (registry.list(), registry.history()) == before
        assert registry.register("4H").model_name == "4H_other_model"  # a new timeframe: free


def test_automatic_numbers_stop_at_the_highest_every_store_keeps(url: str) -> None:
    with open_registry(url, actor="ana") as registry:
        registry.register("1H", 2_147_483_647)
        before = (registry.list(), registry.history())
        with pytest.raises(ValidationError, match="reached version 2,147,483,647"):
            registry.register("1H")
        assert (registry.list(), registry.history()) == before


@pytest.fixture
def read_only_mount(tmp_path: Path) -> Iterator[Path]:
    """A folder mounted read-only (a bind mount, as root): even root cannot write there."""
    source, target = tmp_path / "rw", tmp_path / "ro"
    source.mkdir()
    target.mkdir()
    url = f"sqlite:///{source / 'models.db'}"
    with open_registry(url, actor="ana") as registry:
        registry.register("1H")
    mounted = subprocess.run(["mount", "--bind", str(source), str(target)], capture_output=True)
    if mounted.returncode != 0:
        pytest.fail(f"a bind mount is needed (run as root): {mounted.stderr!r}")
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(target)], check=True)
        yield target / "models.db"
    finally:
        subprocess.run(["umount", str(target)], check=True)


def test_a_store_on_a_read_only_mount_can_still_be_read(read_only_mount: Path) -> None:
    url = f"sqlite:///{read_only_mount}"
    for command in ("status", "list", "history", "events", "timeline"):
        shown = subprocess.run([COMMAND, command, "--store", url], capture_output=True, text=True)
        assert shown.returncode == 0, (command, shown.stderr)
    refused = subprocess.run(
        [COMMAND, "promote", "--timeframe", "1H", "--model-version", "1", "--target-stage",
         "beta", "--store", url], capture_output=True, text=True,
    )  # fmt: skip
    assert refused.returncode == 3
    assert refused.stderr.startswith(f"error: SQLite database {read_only_mount} is read-only")


def test_summaries_read_in_a_few_queries_agree_with_the_plain_reads(url: str) -> None:
    """The overview's batched read (``summaries``) says what the timeframe-by-timeframe
    reads say, for every timeframe."""
    from stagekeeper.service.overview import _summary

    with open_registry(url, actor="ana") as registry:
        for timeframe in ("1H", "4H", "1D"):
            for number in range(1, 6):
                registry.register(timeframe, metrics={"sharpe": number / 10})
                registry.promote(timeframe, number, "beta")
            registry.promote(timeframe, 2, "champion")
        registry.register("4H")  # the last change of 4H is a registration
        batched = registry.store.summaries(3)  # type: ignore[attr-defined]
        plain = [_summary(registry.store, tf, 3) for tf in ("1D", "1H", "4H")]
    assert batched == plain
    assert [s.last.version for s in batched if s.last] == [2, 2, 6]


@pytest.mark.postgres
def test_a_closed_store_closes_a_connection_in_use_when_it_comes_back(postgres_url: str) -> None:
    """A live page's read in another thread may hold a connection while the console's
    store closes: the connection is closed when the read ends, not pooled and collected."""
    registry = open_registry(postgres_url)
    engine = registry.store.engine  # type: ignore[attr-defined]
    reading = engine.connect()
    driver = reading.connection.driver_connection
    registry.close()
    assert not driver.closed  # the read goes on
    reading.close()
    assert driver.closed


def test_a_closed_store_refuses_to_connect_again(url: str) -> None:
    registry = open_registry(url)
    registry.close()
    with pytest.raises(BackendError, match=r"^this store has been closed$"):
        registry.list("1H")
    assert registry.store.engine.pool.checkedout() == 0  # type: ignore[attr-defined]

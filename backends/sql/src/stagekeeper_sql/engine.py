"""Engines for SQLite and PostgreSQL, and the translation of driver errors.

SQLite: WAL mode so readers never block the writer, and write transactions that take
the write lock up front (``BEGIN IMMEDIATE``): SQLite drops ``FOR UPDATE``, and a
deferred transaction that reads then writes can deadlock with another one.
PostgreSQL: psycopg 3, with ``SELECT ... FOR UPDATE`` on the timeframe's row.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError

from stagekeeper.domain.errors import (
    BackendError,
    ConcurrentUpdateError,
    ForbiddenError,
    LockTimeout,
    StoreUnreachable,
    UnsupportedStore,
)

WRITE = "stagekeeper_write"


def parse_url(url: str) -> URL:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise UnsupportedStore(f"invalid store URL: {exc}") from exc
    if parsed.get_backend_name() == "sqlite" and _in_memory(parsed):
        raise UnsupportedStore(
            f"{url} is an in-memory SQLite database: it would be gone when this command ends",
            hint="use memory:// in a Python process, or sqlite:///path/to/file.db",
        )
    if parsed.drivername in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+psycopg")
    return parsed


def _in_memory(url: URL) -> bool:
    return url.database in (None, "", ":memory:") or url.query.get("mode") == "memory"


def sqlite_file(url: URL) -> Path | None:
    """The file of a SQLite URL (``None`` for other databases and ``file:`` URIs)."""
    if url.get_backend_name() != "sqlite" or url.query.get("uri") or not url.database:
        return None
    return Path(url.database)


def require_existing(url: URL) -> None:
    """Refuse a SQLite file that does not exist, instead of creating an empty one."""
    path = sqlite_file(url)
    if path is not None and not path.exists():
        raise StoreUnreachable(
            f"SQLite database {path} does not exist",
            hint="check the path; a command that writes (e.g. register) creates it",
        )


def build_engine(url: URL, lock_timeout: float) -> Engine:
    """An engine whose writers wait ``lock_timeout`` seconds for a lock (SQLite's busy
    timeout, PostgreSQL's ``lock_timeout`` for the session)."""
    try:
        if url.get_backend_name() == "sqlite":
            engine = create_engine(_readable(url), connect_args={"timeout": lock_timeout})
            event.listen(engine, "connect", _sqlite_connect)
            event.listen(engine, "begin", _sqlite_begin)
            return engine
        # lock_timeout for the session, set once at connect rather than per transaction.
        # No pre-ping: it costs every operation a round trip; a connection the server
        # dropped fails one operation (exit 3, nothing changed: the server rolled it back)
        # and the pool connects afresh for the next.
        waits = f"-c lock_timeout={int(lock_timeout * 1000)}"
        return create_engine(url, connect_args={"connect_timeout": 10, "options": waits})
    except ImportError as exc:
        raise UnsupportedStore(
            f"the driver for {url.drivername} is not installed ({exc.name or exc})",
            hint="pip install 'stagekeeper-sql[postgresql]'"
            if url.get_backend_name() == "postgresql"
            else None,
        ) from exc


def shut(engine: Engine) -> None:
    """Close ``engine`` for good: the connections in its pool now, one checked out now (a
    live page's read in another thread) as it comes back, and every later attempt to
    connect. Plain ``dispose`` pools a connection that comes back later, and connects again
    when asked: such a connection is never closed, only collected."""
    event.listen(engine, "checkin", _closed_on_return)
    event.listen(engine, "do_connect", _refused)
    engine.dispose()


def _closed_on_return(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.close()


def _refused(*_connecting: Any) -> None:
    raise BackendError("this store has been closed")


def _readable(url: URL) -> URL:
    """A SQLite file in a folder nobody may write (a read-only mount) is opened immutable:
    reading it in WAL mode would need its ``-shm`` file beside it, and no writer can reach
    it through this path. A write then fails as the store being read-only."""
    path = sqlite_file(url)
    if path is None or not path.exists() or os.access(path.parent, os.W_OK):
        return url
    return url.set(database=f"file:{path.resolve()}?mode=ro&immutable=1", query={"uri": "true"})


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event issue BEGIN, not the driver (see _sqlite_begin).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    import sqlite3  # loaded already by the driver; not imported on PostgreSQL

    immediate = connection.get_execution_options().get(WRITE, False)
    statement = "BEGIN IMMEDIATE" if immediate else "BEGIN"
    # Straight to the driver: SQLAlchemy's execution path would add its events and result
    # handling to every write (about 20 µs of a 0.6 ms promotion) for a statement that
    # returns nothing. Its errors (the busy timeout above all) are wrapped as SQLAlchemy
    # wraps them, for translated_errors.
    driver = connection.connection.driver_connection
    try:
        driver.execute(statement)  # type: ignore[union-attr]
    except sqlite3.Error as exc:
        raise DBAPIError.instance(statement, None, exc, sqlite3.Error) from exc


@contextmanager
def translated_errors(url: URL) -> Iterator[None]:
    """Re-raise driver errors as stagekeeper errors, never showing the password."""
    try:
        yield
    except DBAPIError as exc:
        refusal = _refusal(exc)
        if refusal is not None:
            raise refusal from exc
        if isinstance(exc, IntegrityError):
            raise ConcurrentUpdateError(
                f"the store refused a concurrent change: {_first_line(exc, url)}"
            ) from exc
        if _is_lock_timeout(exc):
            raise LockTimeout("another session held a lock on the store for too long") from exc
        raise _translated(exc, url) from exc


# PostgreSQL's refusals of the acting login: the rules ``stagekeeper db enforce`` turns on
# (SKF01, their message names the login and the rule), and a privilege its group lacks.
FORBIDDEN, NO_PRIVILEGE = "SKF01", "42501"


def _refusal(exc: DBAPIError) -> ForbiddenError | None:
    state = getattr(exc.orig, "sqlstate", None)
    diagnosis = getattr(exc.orig, "diag", None)
    said = str(getattr(diagnosis, "message_primary", None) or exc.orig).strip()
    if state == FORBIDDEN:
        return ForbiddenError(said, hint="stagekeeper db roles lists who is in which group")
    if state == NO_PRIVILEGE:
        return ForbiddenError(
            f"this login may not do that here: {said}",
            hint="an admin grants a group with `stagekeeper db grant LOGIN --as GROUP`",
        )
    return None


def waited_too_long(url: URL, timeframe: str | None, seconds: float) -> LockTimeout:
    """What a lock timeout means, in what is known: SQLite locks its whole file for any
    writer, and on PostgreSQL a read waits only for a lock taken outside stagekeeper."""
    hint = "try again when it has finished; STAGEKEEPER_LOCK_TIMEOUT sets how long to wait"
    if sqlite_file(url) is not None:
        return LockTimeout(
            f"waited {seconds:g} s for the write lock of SQLite database {sqlite_file(url)}: "
            "another writer holds it (SQLite locks the whole file, whichever timeframe it "
            "changes)",
            hint=hint,
        )
    if timeframe is None:
        return LockTimeout(
            f"waited {seconds:g} s to read the store: another session holds a lock on its "
            "tables (stagekeeper's writers never block readers: a lock taken by hand?)",
            hint=hint,
        )
    return LockTimeout(
        f"waited {seconds:g} s for the write lock of {timeframe}: another session holds it "
        f"(a writer of {timeframe}, or a lock on the store's tables)",
        hint=hint,
    )


def _is_lock_timeout(exc: DBAPIError) -> bool:
    """PostgreSQL's ``lock_timeout`` (SQLSTATE 55P03) or SQLite's busy timeout."""
    return getattr(exc.orig, "sqlstate", None) == "55P03" or "database is locked" in str(exc.orig)


# SQLite's own words for conditions a user can fix, and what to tell them instead.
_SQLITE_CONDITIONS = (
    ("unable to open database file", "cannot open SQLite database {path}",
     "check that its folder exists and that you may write there"),
    ("readonly database", "SQLite database {path} is read-only",
     "check the file's and its folder's permissions"),
    ("database or disk is full", "the disk holding SQLite database {path} is full",
     "free some space, then try again; nothing was changed"),
    ("file is not a database", "{path} is not a SQLite database",
     "check the path: it names some other file"),
)  # fmt: skip


def _translated(exc: DBAPIError, url: URL) -> BackendError:
    text = _first_line(exc, url)
    path = sqlite_file(url)
    if path is not None:
        for words, message, hint in _SQLITE_CONDITIONS:
            if words in text:
                return StoreUnreachable(f"{message.format(path=path)} ({text})", hint=hint)
    where = url.render_as_string(hide_password=True)
    return StoreUnreachable(f"store {where} failed: {text}")


def _first_line(exc: DBAPIError, url: URL) -> str:
    text = str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else type(exc).__name__
    return text.replace(url.password, "***") if url.password else text

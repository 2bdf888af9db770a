"""Engines for SQLite and PostgreSQL, and the translation of driver errors.

SQLite: WAL mode so readers never block the writer, and write transactions that take
the write lock up front (``BEGIN IMMEDIATE``): SQLite drops ``FOR UPDATE``, and a
deferred transaction that reads then writes can deadlock with another one.
PostgreSQL: psycopg 3, with ``SELECT ... FOR UPDATE`` on the timeframe's row.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError

from stagekeeper.errors import BackendError, ConcurrentUpdateError

WRITE = "stagekeeper_write"
SQLITE_BUSY_TIMEOUT_SECONDS = 30


def parse_url(url: str) -> URL:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise BackendError(f"invalid store URL: {exc}") from exc
    if parsed.drivername in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+psycopg")
    return parsed


def build_engine(url: URL) -> Engine:
    if url.get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS})
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": 10})


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event issue BEGIN, not the driver (see _sqlite_begin).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    immediate = connection.get_execution_options().get(WRITE, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


@contextmanager
def translated_errors(url: URL) -> Iterator[None]:
    """Re-raise driver errors as stagekeeper errors, never showing the password."""
    try:
        yield
    except IntegrityError as exc:
        raise ConcurrentUpdateError(
            f"the store refused a concurrent change: {_first_line(exc, url)}"
        ) from exc
    except DBAPIError as exc:
        where = url.render_as_string(hide_password=True)
        raise BackendError(f"store {where} failed: {_first_line(exc, url)}") from exc


def _first_line(exc: DBAPIError, url: URL) -> str:
    text = str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else type(exc).__name__
    return text.replace(url.password, "***") if url.password else text

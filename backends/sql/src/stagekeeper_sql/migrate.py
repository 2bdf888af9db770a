"""Schema versioning with Alembic: check on open, create when empty, upgrade on demand.

Opening a store only reads the revision table (cheap); Alembic itself is imported only
to create or upgrade the schema.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, column, delete, inspect, select, table, text

from stagekeeper.domain.errors import BackendError, SchemaMismatch, StoreUnreachable
from stagekeeper_sql.engine import WRITE
from stagekeeper_sql.schema import HEAD_REVISION, VERSION_TABLE, WRITTEN_BY, meta

DISTRIBUTION = "stagekeeper-sql"

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"


def current_revision(connection: Connection) -> str | None:
    if not inspect(connection).has_table(VERSION_TABLE):
        return None
    revision_table = table(VERSION_TABLE, column("version_num"))
    return connection.execute(select(revision_table.c.version_num)).scalar()


def ensure_schema(engine: Engine, where: str, *, create: bool) -> None:
    """Create the schema in an empty database (if ``create``); refuse one at another
    revision."""
    with engine.connect() as connection:
        revision = current_revision(connection)
    if revision is None and not create:
        raise StoreUnreachable(
            f"store {where} holds no stagekeeper data yet",
            hint="check the URL; a command that writes (e.g. register) creates the schema",
        )
    if revision is None:
        upgrade(engine)
    elif _newer(revision):
        raise newer_store(engine, where, revision)
    elif revision != HEAD_REVISION:
        raise SchemaMismatch(
            f"store {where} has schema revision {revision}, this stagekeeper needs {HEAD_REVISION}",
            hint="run `stagekeeper db upgrade` (back up the database first)",
        )


def _newer(revision: str) -> bool:
    """Revisions are numbered in order; one past the head was written by a newer release."""
    return revision.isdigit() and int(revision) > int(HEAD_REVISION)


def newer_store(engine: Engine, where: str, revision: str) -> SchemaMismatch:
    """The store is newer than this stagekeeper: no upgrade can help, an install can."""
    with engine.connect() as connection:
        written_by = (
            connection.execute(select(meta.c.value).where(meta.c.key == WRITTEN_BY)).scalar()
            if inspect(connection).has_table(meta.name)
            else None
        )
    wanted = f"{DISTRIBUTION}>={written_by}" if written_by else f"a newer {DISTRIBUTION}"
    return SchemaMismatch(
        f"store {where} was written by a newer stagekeeper (schema revision {revision}; this "
        f"{DISTRIBUTION} {_installed()} knows revisions up to {HEAD_REVISION})",
        hint=f"install {wanted} to use it (pip install -U '{wanted}'); do not downgrade the store",
    )


def _installed() -> str:
    from importlib.metadata import version

    return version(DISTRIBUTION)


def upgrade(engine: Engine) -> str:
    """Run every pending migration in one transaction; return the new revision."""
    from alembic import command
    from alembic.util import CommandError

    config = alembic_config()
    with engine.connect().execution_options(**{WRITE: True}) as connection, connection.begin():
        if connection.dialect.name == "postgresql":
            # Two processes opening one empty database must not both create the tables.
            connection.execute(text("SELECT pg_advisory_xact_lock(8675309)"))
        config.attributes["connection"] = connection
        revision = current_revision(connection)
        if revision is not None and _newer(revision):
            raise newer_store(engine, "this store", revision)
        try:
            command.upgrade(config, "head")
        except CommandError as exc:
            raise BackendError(f"cannot upgrade the schema: {exc}") from exc
        connection.execute(delete(meta).where(meta.c.key == WRITTEN_BY))
        connection.execute(meta.insert().values(key=WRITTEN_BY, value=_installed()))
    return HEAD_REVISION


def alembic_config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config

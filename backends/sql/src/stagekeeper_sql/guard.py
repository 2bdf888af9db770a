"""The database's own guards: who it says is connected, and the one-champion index.

``login_of``: PostgreSQL's ``session_user``, the login the server checked (``SET ROLE``
does not change it); SQLite authenticates nobody.

The partial unique index ``stagekeeper_one_champion`` (one ``champion`` row per timeframe)
stands behind every writer's lock. Dropped by hand, it guards nothing, and a second champion
can be set outside stagekeeper. ``doctor`` reports it missing and ``--fix`` creates it again,
which the database refuses while any timeframe has two champions (``several-champions``
then says which). Imports the domain and SQLAlchemy.
"""

from __future__ import annotations

from sqlalchemy import Connection, Engine, func, inspect, select, text
from sqlalchemy.exc import IntegrityError

from stagekeeper.domain.identity import Identity
from stagekeeper.domain.model import Finding
from stagekeeper_sql.schema import versions

CHAMPION_INDEX = "stagekeeper_one_champion"
MISSING_CHAMPION_INDEX = "missing-champion-index"
# As migration 0001 creates it; the same statement on SQLite and PostgreSQL.
_CREATE = text(
    f"CREATE UNIQUE INDEX {CHAMPION_INDEX} ON {versions.name} (timeframe) WHERE stage = 'champion'"
)


def examined(engine: Engine, timeframe: str | None, *, fix: bool) -> list[Finding]:
    """What ``doctor`` checks of the database itself: the one-champion index, which guards
    every timeframe alike, and history rows that cannot be read (a person must decide
    what they said)."""
    from stagekeeper_sql.damage import damaged_rows

    found = champion_index_findings(engine, fix=fix)
    with engine.connect() as connection:
        return found + damaged_rows(connection, timeframe)


def champion_index_findings(engine: Engine, *, fix: bool) -> list[Finding]:
    """A finding if the index is gone; with ``fix``, created again if the data allows."""
    with engine.connect() as connection:
        names = {index["name"] for index in inspect(connection).get_indexes(versions.name)}
    if CHAMPION_INDEX in names:
        return []
    fixed = fix and _recreated(engine)
    return [
        Finding(
            timeframe="*",
            version=None,
            code=MISSING_CHAMPION_INDEX,
            message=(
                f"the unique index {CHAMPION_INDEX} is missing: the database no longer "
                "refuses a second champion"
            ),
            remedy=f"create {CHAMPION_INDEX} again (refused while a timeframe has two champions)",
            fixed=fixed,
        )
    ]


def _recreated(engine: Engine) -> bool:
    try:
        with engine.begin() as connection:
            connection.execute(_CREATE)
    except IntegrityError:
        return False  # two champions somewhere: several-champions names them
    return True


def login_of(connection: Connection) -> Identity | None:
    """The login the database authenticated, or ``None`` where it authenticates nobody."""
    if connection.dialect.name != "postgresql":
        return None
    found = connection.execute(select(func.session_user())).scalar()
    return None if found is None else Identity(str(found), "postgresql")

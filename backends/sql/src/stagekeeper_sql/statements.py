"""The SQL store's statements, built once, and its rows turned into domain objects.

Building a statement costs more than running it, so the write path's are built at import.
Imports the domain and the schema.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Row,
    Select,
    bindparam,
    delete,
    func,
    literal_column,
    select,
    union_all,
    update,
)

from stagekeeper.domain import approvals
from stagekeeper.domain.approvals import ApprovalRequest
from stagekeeper.domain.identity import DECLARED, Identity
from stagekeeper.domain.model import Metrics, ModelVersion, Registration, StageChange
from stagekeeper.domain.stages import Cause, Stage
from stagekeeper_sql.schema import (
    changes,
    count_column,
    metrics,
    policies,
    requests,
    timeframes,
    versions,
)


def versions_query() -> Select[Any]:
    return select(versions, timeframes.c.model_name).join(
        timeframes, timeframes.c.name == versions.c.timeframe
    )


def to_version(row: Any, model_name: str) -> ModelVersion:
    return ModelVersion(
        timeframe=row["timeframe"],
        model_name=model_name,
        version=row["version"],
        stage=Stage(row["stage"]),
        created_at=utc(row["created_at"]),
        updated_at=utc(row["updated_at"]),
        source=row["source"],
    )


def to_change(row: Row[Any]) -> StageChange:
    return StageChange(
        operation_id=row.operation_id,
        timeframe=row.timeframe,
        model_name=row.model_name,
        version=row.version,
        from_stage=None if row.from_stage is None else Stage(row.from_stage),
        to_stage=Stage(row.to_stage),
        reason=row.reason,
        actor=row.actor,
        at=utc(row.at),
        cause=Cause(row.cause),
        detail=row.detail,
        identity=None
        if row.identity_name is None
        else Identity(row.identity_name, row.identity_source or DECLARED),
    )


def record_metrics(connection: Connection, timeframe: str, version: int, values: Metrics) -> None:
    """Replace the named values (their history is in the changes table)."""
    if not values:
        return
    connection.execute(
        delete(metrics)
        .where(metrics.c.timeframe == timeframe)
        .where(metrics.c.version == version)
        .where(metrics.c.name.in_(list(values)))
    )
    connection.execute(
        metrics.insert(),
        [
            {"timeframe": timeframe, "version": version, "name": name, "value": value}
            for name, value in values.items()
        ],
    )


def keep_requests(connection: Connection, kept: Sequence[ApprovalRequest]) -> None:
    """Replace each request by its id."""
    if not kept:
        return
    connection.execute(delete(requests).where(requests.c.id.in_([r.id for r in kept])))
    connection.execute(
        requests.insert(),
        [
            {
                "id": r.id,
                "timeframe": r.timeframe,
                "version": r.version,
                "state": r.state.value,
                "requested_at": r.requested_at,
                "document": json.dumps(approvals.to_document(r), sort_keys=True),
            }
            for r in kept
        ],
    )


def utc(moment: datetime) -> datetime:
    # SQLite keeps no time zone; everything stagekeeper writes is UTC.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def in_stage(stage: Stage) -> ColumnElement[bool]:
    """Versions in ``stage``, the stage written into the SQL rather than bound: SQLite
    prepares a statement that binds a value its partial index ``stagekeeper_one_champion``
    is conditioned on afresh at every execution (a promotion's read took 64 µs instead of 11)."""
    # A constant of the schema's own (stagekeeper_stage_known), quoted here rather than
    # rendered at each execution by literal_execute, which costs as much as it saves.
    return versions.c.stage == literal_column(f"'{stage.value}'")


# The write path's statements, built once: building a statement costs more than running it.
LOCK_TIMEFRAME = (
    select(timeframes.c.name).where(timeframes.c.name == bindparam("timeframe")).with_for_update()
)
# The policy table's revision: its newest id and its row count. Policies are only appended,
# so a new one changes the first and a row deleted by hand the second.
_POLICY_NEWEST = select(func.coalesce(func.max(policies.c.id), 0)).scalar_subquery()
_POLICY_ROWS = select(func.count(policies.c.id)).scalar_subquery()


def _version_with_policy_revision(number: ColumnElement[Any]) -> Select[Any]:
    return (
        versions_query()
        .add_columns(_POLICY_NEWEST.label("policy_newest"), _POLICY_ROWS.label("policy_rows"))
        .where((versions.c.timeframe == bindparam("tf")) & (versions.c.version == number))
    )


# The version asked for and the champion, each by its full primary key: a lookup of one
# row whatever the planner's statistics say. ("version = :number OR stage = 'champion'"
# had PostgreSQL scan the whole timeframe on a freshly loaded table.)
VERSION_AND_CHAMPION = union_all(
    _version_with_policy_revision(bindparam("number")),
    _version_with_policy_revision(
        select(versions.c.version)
        .where((versions.c.timeframe == bindparam("tf")) & in_stage(Stage.CHAMPION))
        .scalar_subquery()
    ),
)
# A registration's two reads under the lock: the newest number and the kept model name.
LATEST_AND_MODEL_NAME = select(
    select(func.max(versions.c.version))
    .where(versions.c.timeframe == bindparam("tf"))
    .scalar_subquery(),
    timeframes.c.model_name,
).where(timeframes.c.name == bindparam("tf"))
MOVE = (
    update(versions)
    .where(versions.c.timeframe == bindparam("tf"))
    .where(versions.c.version == bindparam("number"))
    .values(stage=bindparam("stage"), updated_at=bindparam("at"))
)
METRICS = select(metrics.c.name, metrics.c.value).where(
    (metrics.c.timeframe == bindparam("tf")) & (metrics.c.version == bindparam("number"))
)
POLICIES = select(policies.c.timeframe, policies.c.document).where(
    policies.c.id.in_(select(func.max(policies.c.id)).group_by(policies.c.timeframe))
)
STATUS = (
    select(
        timeframes.c.name,
        timeframes.c.model_name,
        versions.c.version,
        *(timeframes.c[count_column(stage)] for stage in Stage),
    )
    .select_from(timeframes)
    .outerjoin(
        versions,
        (versions.c.timeframe == timeframes.c.name) & in_stage(Stage.CHAMPION),
    )
    .order_by(timeframes.c.name)
)


def ensure_timeframe(connection: Connection, registration: Registration) -> None:
    """The timeframe's row, kept as first registered (its model name included)."""
    # Each dialect's INSERT ... ON CONFLICT, imported for the database in use only:
    # PostgreSQL's dialect costs a SQLite command about 50 ms to import.
    if connection.dialect.name == "postgresql":
        from sqlalchemy.dialects import postgresql as dialect
    else:
        from sqlalchemy.dialects import sqlite as dialect  # type: ignore[no-redef]
    connection.execute(
        dialect.insert(timeframes)
        .values(
            name=registration.timeframe,
            model_name=registration.model_name,
            # The database's time: on PostgreSQL this runs before the row's lock, and a
            # registration's own time is taken under it.
            created_at=func.current_timestamp(),
        )
        .on_conflict_do_nothing(index_elements=["name"])
    )


def previous_champion_query(timeframe: str, current: int | None) -> Select[Any]:
    """The newest crowning whose version is archived now, other than ``current``: one
    query, down the ``stagekeeper_changes_crowning`` index."""
    query = (
        versions_query()
        .join(
            changes,
            (changes.c.timeframe == versions.c.timeframe)
            & (changes.c.version == versions.c.version),
        )
        .where(changes.c.timeframe == timeframe)
        .where(changes.c.to_stage == Stage.CHAMPION.value)
        .where(changes.c.from_stage != Stage.CHAMPION.value)  # not a metrics record
        .where(in_stage(Stage.ARCHIVED))
        .order_by(changes.c.id.desc())
        .limit(1)
    )
    return query if current is None else query.where(changes.c.version != current)


def was_champion_query(timeframe: str, version: int) -> Select[Any]:
    crowned = (
        select(changes.c.id)
        .where(changes.c.timeframe == timeframe)
        .where(changes.c.version == version)
        .where(changes.c.to_stage == Stage.CHAMPION.value)
        .where(changes.c.from_stage != Stage.CHAMPION.value)
    )
    return select(crowned.exists())


def history_query(timeframe: str | None, version: int | None, limit: int | None) -> Select[Any]:
    """Newest first (``limit`` keeps the most recent); readers reverse it."""
    query = select(changes).order_by(changes.c.id.desc())
    if timeframe is not None:
        query = query.where(changes.c.timeframe == timeframe)
    if version is not None:
        query = query.where(changes.c.version == version)
    return query if limit is None else query.limit(limit)


def requests_query(timeframe: str | None) -> Select[Any]:
    query = select(requests.c.document).order_by(requests.c.requested_at, requests.c.id)
    return query if timeframe is None else query.where(requests.c.timeframe == timeframe)

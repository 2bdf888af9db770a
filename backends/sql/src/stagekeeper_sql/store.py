"""The SQL store: every write is one transaction with its timeframe locked.

The timeframe's row is the lock: PostgreSQL takes it with ``SELECT ... FOR UPDATE``,
SQLite with ``BEGIN IMMEDIATE`` on the whole file. The service plans under that lock,
reading inside the same transaction, so concurrent writers wait for each other instead of
racing, and the partial unique index stands behind it as the database's own guard. Returns domain
objects, never rows.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cached_property
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
from sqlalchemy.exc import IntegrityError

from stagekeeper.domain import approvals
from stagekeeper.domain.approvals import ApprovalRequest
from stagekeeper.domain.errors import ConflictError, LockTimeout
from stagekeeper.domain.model import (
    Finding,
    Metrics,
    ModelVersion,
    Plan,
    Registration,
    StageChange,
    TimeframeStatus,
)
from stagekeeper.domain.policy import PolicyChange
from stagekeeper.domain.stages import Cause, Stage
from stagekeeper.service.ports import CHOOSES_VERSION_NUMBERS, Planner, StoreOptions
from stagekeeper_sql import migrate
from stagekeeper_sql.damage import damaged, damaged_rows
from stagekeeper_sql.engine import (
    WRITE,
    build_engine,
    parse_url,
    require_existing,
    translated_errors,
    waited_too_long,
)
from stagekeeper_sql.guard import champion_index_findings
from stagekeeper_sql.schema import (
    EVENTS_CHANNEL,
    change_row,
    changes,
    count_column,
    deliveries,
    metrics,
    policies,
    requests,
    timeframes,
    versions,
)


class SqlStore:
    """A ``ModelStore`` in SQLite or PostgreSQL; see ``stagekeeper.service.ports.ModelStore``."""

    capabilities = frozenset({CHOOSES_VERSION_NUMBERS})

    def __init__(self, url: str, options: StoreOptions) -> None:
        self.url = parse_url(url)
        if not options.create:
            require_existing(self.url)
        self.engine = build_engine(self.url, options.lock_timeout)
        self.options = options
        self._listening: Any = None  # psycopg's connection that LISTENs, once asked
        self._policies: tuple[tuple[int, int] | None, dict[str | None, Mapping[str, Any]]] = (
            None,
            {},
        )
        if options.check_schema:
            where = self.url.render_as_string(hide_password=True)
            with translated_errors(self.url):
                migrate.ensure_schema(self.engine, where, create=options.create)

    # -- writes -------------------------------------------------------------------------

    def register(self, registration: Registration) -> ModelVersion:
        with self._waiting_for(registration.timeframe), self._write() as connection:
            self._ensure_timeframe(connection, registration)
            self._lock(connection, registration.timeframe)
            latest, model_name = connection.execute(
                _LATEST_AND_MODEL_NAME, {"tf": registration.timeframe}
            ).one()
            number = registration.number(latest, model_name)
            row = {
                "timeframe": registration.timeframe,
                "version": number,
                "stage": Stage.DEVELOPMENT.value,
                "source": registration.source,
                "created_at": registration.at,
                "updated_at": registration.at,
            }
            try:
                with connection.begin_nested():
                    connection.execute(versions.insert().values(row))
            except IntegrityError as exc:
                raise ConflictError(
                    f"version {number} of {registration.timeframe} exists already"
                ) from exc
            connection.execute(changes.insert(), [change_row(registration.change_for(number))])
            _record_metrics(connection, registration.timeframe, number, registration.metrics)
        return _version(row, registration.model_name)

    def transact(self, timeframe: str, planner: Planner) -> Plan | None:
        with self._waiting_for(timeframe), self._write() as connection:
            self._lock(connection, timeframe)
            plan = planner(_View(self, connection, timeframe))
            if plan is None:
                return None
            # A plan that records only leads each version where it stands already.
            moves = [
                {"tf": c.timeframe, "number": c.version, "stage": c.to_stage.value, "at": c.at}
                for c in plan.changes
                if c.moves
            ]
            if moves:
                connection.execute(_MOVE, moves)
            for number, values in plan.metrics.items():
                _record_metrics(connection, timeframe, number, values)
            _keep_requests(connection, plan.requests)
            # Inserted under the lock: the ids are the commit order. (The per-stage counts
            # follow by themselves: the schema's triggers keep them.)
            connection.execute(changes.insert(), [change_row(c) for c in plan.changes])
            return plan

    def _ensure_timeframe(self, connection: Connection, registration: Registration) -> None:
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

    def _lock(self, connection: Connection, timeframe: str) -> None:
        # FOR UPDATE serialises writers of one timeframe on PostgreSQL. SQLite has no row
        # locks: its BEGIN IMMEDIATE has taken the whole file already (see engine.py).
        if connection.dialect.name == "postgresql":
            connection.execute(_LOCK_TIMEFRAME, {"timeframe": timeframe})

    # -- reads --------------------------------------------------------------------------

    def get(
        self, timeframe: str, version: int, *, within: Connection | None = None
    ) -> ModelVersion | None:
        found = self._versions(
            _versions_query()
            .where(versions.c.timeframe == timeframe)
            .where(versions.c.version == version),
            within,
        )
        return found[0] if found else None

    def versions(
        self,
        timeframe: str | None = None,
        stage: Stage | None = None,
        *,
        within: Connection | None = None,
    ) -> list[ModelVersion]:
        query = _versions_query().order_by(versions.c.timeframe, versions.c.version)
        if timeframe is not None:
            query = query.where(versions.c.timeframe == timeframe)
        if stage is not None:
            query = query.where(_in_stage(stage))
        return self._versions(query, within)

    def champion(self, timeframe: str, *, within: Connection | None = None) -> ModelVersion | None:
        found = self.versions(timeframe, Stage.CHAMPION, within=within)
        return found[0] if found else None

    def status(self) -> list[TimeframeStatus]:
        """One row per timeframe: its kept counts, and its champion through the partial
        unique index. No scan of the versions."""
        with self._read() as connection:
            rows = connection.execute(_STATUS).all()
        return [
            TimeframeStatus(name, model_name, champion, dict(zip(Stage, numbers, strict=True)))
            for name, model_name, champion, *numbers in rows
            if any(numbers)
        ]

    def previous_champion(
        self, timeframe: str, current: int | None, *, within: Connection
    ) -> ModelVersion | None:
        """The newest crowning whose version is archived now, other than ``current``: one
        query, down the ``stagekeeper_changes_crowning`` index."""
        query = (
            _versions_query()
            .join(
                changes,
                (changes.c.timeframe == versions.c.timeframe)
                & (changes.c.version == versions.c.version),
            )
            .where(changes.c.timeframe == timeframe)
            .where(changes.c.to_stage == Stage.CHAMPION.value)
            .where(changes.c.from_stage != Stage.CHAMPION.value)  # not a metrics record
            .where(_in_stage(Stage.ARCHIVED))
            .order_by(changes.c.id.desc())
            .limit(1)
        )
        if current is not None:
            query = query.where(changes.c.version != current)
        found = self._versions(query, within)
        return found[0] if found else None

    def was_champion(self, timeframe: str, version: int, *, within: Connection) -> bool:
        crowned = (
            select(changes.c.id)
            .where(changes.c.timeframe == timeframe)
            .where(changes.c.version == version)
            .where(changes.c.to_stage == Stage.CHAMPION.value)
            .where(changes.c.from_stage != Stage.CHAMPION.value)
        )
        return bool(within.execute(select(crowned.exists())).scalar())

    def history(
        self,
        timeframe: str | None = None,
        version: int | None = None,
        limit: int | None = None,
        *,
        within: Connection | None = None,
    ) -> list[StageChange]:
        query = select(changes).order_by(changes.c.id.desc())
        if timeframe is not None:
            query = query.where(changes.c.timeframe == timeframe)
        if version is not None:
            query = query.where(changes.c.version == version)
        if limit is not None:
            query = query.limit(limit)
        with self._read(within) as connection:
            try:
                return [_change(row) for row in reversed(connection.execute(query).all())]
            except (ValueError, TypeError) as exc:  # a row changed by hand: say which
                raise damaged(connection, timeframe, exc) from exc

    def _versions(self, query: Select[Any], within: Connection | None) -> list[ModelVersion]:
        with self._read(within) as connection:
            rows = connection.execute(query).all()
        return [_version(row._mapping, row.model_name) for row in rows]

    def metrics(self, timeframe: str, version: int, *, within: Connection | None = None) -> Metrics:
        with self._read(within) as connection:
            rows = connection.execute(_METRICS, {"tf": timeframe, "number": version}).all()
        return {str(name): float(value) for name, value in rows}

    def requests(
        self, timeframe: str | None = None, *, within: Connection | None = None
    ) -> list[ApprovalRequest]:
        query = select(requests.c.document).order_by(requests.c.requested_at, requests.c.id)
        if timeframe is not None:
            query = query.where(requests.c.timeframe == timeframe)
        with self._read(within) as connection:
            documents = connection.execute(query).scalars().all()
        return [approvals.from_document(json.loads(document)) for document in documents]

    def identity(self) -> str | None:
        return self._authenticated

    @cached_property
    def _authenticated(self) -> str | None:
        """PostgreSQL's ``current_user``, asked once; SQLite authenticates nobody."""
        if self.engine.dialect.name != "postgresql":
            return None
        with self._read() as connection:
            found = connection.execute(select(func.current_user())).scalar()
        return None if found is None else str(found)

    # -- policies -----------------------------------------------------------------------

    def policies(
        self, *, within: Connection | None = None, revision: tuple[int, int] | None = None
    ) -> dict[str | None, Mapping[str, Any]]:
        """The newest document of each scope: one query, in the caller's transaction.

        A writer's first read brings the policy table's ``revision`` (its newest id and its
        row count) at no extra query; if it matches the documents this store read last,
        those are served without reading them again. Policies change rarely, and a
        promotion otherwise pays a query for them every time."""
        if revision is not None and self._policies[0] == revision:
            return self._policies[1]
        with self._read(within) as connection:
            rows = connection.execute(_POLICIES).all()
        found = {timeframe: json.loads(document) for timeframe, document in rows}
        if revision is not None:  # read after the revision: as new as it, or newer
            self._policies = (revision, found)
        return found

    def set_policy(self, change: PolicyChange) -> None:
        with self._write() as connection:
            connection.execute(
                policies.insert().values(
                    operation_id=change.operation_id,
                    timeframe=change.timeframe,
                    document=json.dumps(change.document, sort_keys=True),
                    actor=change.actor,
                    at=change.at,
                    reason=change.reason,
                )
            )

    def policy_history(self) -> list[PolicyChange]:
        with self._read() as connection:
            rows = connection.execute(select(policies).order_by(policies.c.id)).all()
        return [
            PolicyChange(
                row.operation_id,
                row.timeframe,
                json.loads(row.document),
                row.actor,
                _utc(row.at),
                row.reason,
            )
            for row in rows
        ]

    # -- event delivery -----------------------------------------------------------------

    def delivered(self, sink: str) -> str | None:
        with self._read() as connection:
            found = connection.execute(
                select(deliveries.c.cursor).where(deliveries.c.sink == sink)
            ).scalar()
        return None if found is None else str(found)

    def mark_delivered(self, sink: str, cursor: str) -> None:
        with self._write() as connection:
            connection.execute(delete(deliveries).where(deliveries.c.sink == sink))
            connection.execute(
                deliveries.insert().values(sink=sink, cursor=cursor, updated_at=datetime.now(UTC))
            )

    # -- following the history ----------------------------------------------------------

    def wait_for_changes(self, timeout: float) -> bool:
        """PostgreSQL: wait for the changes trigger's NOTIFY (LISTEN on a connection of its
        own, opened on first use); SQLite: no channel, so just the wait."""
        if self.engine.dialect.name != "postgresql":
            time.sleep(timeout)
            return False
        listener = self._listener()
        return any(True for _ in listener.notifies(timeout=timeout, stop_after=1))

    def _listener(self) -> Any:
        if self._listening is None:
            import psycopg

            dsn = self.url.set(drivername="postgresql").render_as_string(hide_password=False)
            with translated_errors(self.url):
                self._listening = psycopg.connect(dsn, autocommit=True)
                self._listening.execute(f"LISTEN {EVENTS_CHANNEL}")
        return self._listening

    # -- the database's own guard -------------------------------------------------------

    def examine(self, timeframe: str | None, *, fix: bool) -> list[Finding]:
        """The one-champion index, which guards every timeframe alike, and history rows
        that cannot be read (a person must decide what they said)."""
        with translated_errors(self.url):
            found = champion_index_findings(self.engine, fix=fix)
            with self.engine.connect() as connection:
                return found + damaged_rows(connection, timeframe)

    # -- schema and lifetime ------------------------------------------------------------

    def upgrade_schema(self) -> str:
        with translated_errors(self.url):
            return migrate.upgrade(self.engine)

    def close(self) -> None:
        if self._listening is not None:
            self._listening.close()
        self.engine.dispose()

    @contextmanager
    def _read(self, within: Connection | None = None) -> Iterator[Connection]:
        """A connection to read on: the write transaction's, ``within`` one, else a new one."""
        if within is not None:
            yield within
            return
        with self._waiting_for(None), translated_errors(self.url), self.engine.connect() as c:
            yield c

    @contextmanager
    def _waiting_for(self, timeframe: str | None) -> Iterator[None]:
        """Say what was waited for, and how long, when a lock was held too long."""
        try:
            yield
        except LockTimeout as exc:
            raise waited_too_long(self.url, timeframe, self.options.lock_timeout) from exc

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with (
            translated_errors(self.url),
            self.engine.connect().execution_options(**{WRITE: True}) as connection,
            connection.begin(),
        ):
            yield connection


class _View:
    """A timeframe read inside the write transaction that holds its lock. Reads are kept
    for the rest of the step (nobody else can change them under the lock), and the first
    version asked for comes with the champion, in one query: a promotion asks for both."""

    _UNKNOWN: Any = object()

    def __init__(self, store: SqlStore, connection: Connection, timeframe: str) -> None:
        self.store, self.connection, self.timeframe = store, connection, timeframe
        self._found: dict[int, ModelVersion | None] = {}
        self._champion: ModelVersion | None = self._UNKNOWN
        self._policy_revision: tuple[int, int] | None = None

    def get(self, version: int) -> ModelVersion | None:
        if version not in self._found:
            rows = self.connection.execute(
                _VERSION_AND_CHAMPION, {"tf": self.timeframe, "number": version}
            ).all()
            read = {row.version: _version(row._mapping, row.model_name) for row in rows}
            if rows:
                self._policy_revision = (rows[0].policy_newest, rows[0].policy_rows)
            self._found.update(read)
            self._found.setdefault(version, None)
            self._champion = next((v for v in read.values() if v.stage is Stage.CHAMPION), None)
        return self._found[version]

    def champion(self) -> ModelVersion | None:
        if self._champion is self._UNKNOWN:
            self._champion = self.store.champion(self.timeframe, within=self.connection)
            if self._champion is not None:
                self._found[self._champion.version] = self._champion
        return self._champion

    def versions(self) -> list[ModelVersion]:
        return self.store.versions(self.timeframe, within=self.connection)

    def history(self) -> list[StageChange]:
        return self.store.history(self.timeframe, within=self.connection)

    def previous_champion(self, current: int | None) -> ModelVersion | None:
        return self.store.previous_champion(self.timeframe, current, within=self.connection)

    def was_champion(self, version: int) -> bool:
        return self.store.was_champion(self.timeframe, version, within=self.connection)

    def metrics(self, version: int) -> Metrics:
        return self.store.metrics(self.timeframe, version, within=self.connection)

    def requests(self) -> list[ApprovalRequest]:
        return self.store.requests(self.timeframe, within=self.connection)

    def policies(self) -> dict[str | None, Mapping[str, Any]]:
        return self.store.policies(within=self.connection, revision=self._policy_revision)


def open_store(url: str, options: StoreOptions) -> SqlStore:
    """Entry point for ``sqlite://`` and ``postgresql[+psycopg]://``."""
    return SqlStore(url, options)


def _versions_query() -> Select[Any]:
    return select(versions, timeframes.c.model_name).join(
        timeframes, timeframes.c.name == versions.c.timeframe
    )


def _version(row: Any, model_name: str) -> ModelVersion:
    return ModelVersion(
        timeframe=row["timeframe"],
        model_name=model_name,
        version=row["version"],
        stage=Stage(row["stage"]),
        created_at=_utc(row["created_at"]),
        updated_at=_utc(row["updated_at"]),
        source=row["source"],
    )


def _change(row: Row[Any]) -> StageChange:
    return StageChange(
        operation_id=row.operation_id,
        timeframe=row.timeframe,
        model_name=row.model_name,
        version=row.version,
        from_stage=None if row.from_stage is None else Stage(row.from_stage),
        to_stage=Stage(row.to_stage),
        reason=row.reason,
        actor=row.actor,
        at=_utc(row.at),
        cause=Cause(row.cause),
        detail=row.detail,
    )


def _record_metrics(connection: Connection, timeframe: str, version: int, values: Metrics) -> None:
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


def _keep_requests(connection: Connection, kept: Sequence[ApprovalRequest]) -> None:
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


def _utc(moment: datetime) -> datetime:
    # SQLite keeps no time zone; everything stagekeeper writes is UTC.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _in_stage(stage: Stage) -> ColumnElement[bool]:
    """Versions in ``stage``, the stage written into the SQL rather than bound: SQLite
    prepares a statement that binds a value its partial index ``stagekeeper_one_champion``
    is conditioned on afresh at every execution (a promotion's read took 64 µs instead of 11)."""
    # A constant of the schema's own (stagekeeper_stage_known), quoted here rather than
    # rendered at each execution by literal_execute, which costs as much as it saves.
    return versions.c.stage == literal_column(f"'{stage.value}'")


# The write path's statements, built once: building a statement costs more than running it.
_LOCK_TIMEFRAME = (
    select(timeframes.c.name).where(timeframes.c.name == bindparam("timeframe")).with_for_update()
)
# The policy table's revision: its newest id and its row count. Policies are only appended,
# so a new one changes the first and a row deleted by hand the second.
_POLICY_NEWEST = select(func.coalesce(func.max(policies.c.id), 0)).scalar_subquery()
_POLICY_ROWS = select(func.count(policies.c.id)).scalar_subquery()


def _version_with_policy_revision(number: ColumnElement[Any]) -> Select[Any]:
    return (
        _versions_query()
        .add_columns(_POLICY_NEWEST.label("policy_newest"), _POLICY_ROWS.label("policy_rows"))
        .where((versions.c.timeframe == bindparam("tf")) & (versions.c.version == number))
    )


# The version asked for and the champion, each by its full primary key: a lookup of one
# row whatever the planner's statistics say. ("version = :number OR stage = 'champion'"
# had PostgreSQL scan the whole timeframe on a freshly loaded table.)
_VERSION_AND_CHAMPION = union_all(
    _version_with_policy_revision(bindparam("number")),
    _version_with_policy_revision(
        select(versions.c.version)
        .where((versions.c.timeframe == bindparam("tf")) & _in_stage(Stage.CHAMPION))
        .scalar_subquery()
    ),
)
# A registration's two reads under the lock: the newest number and the kept model name.
_LATEST_AND_MODEL_NAME = select(
    select(func.max(versions.c.version))
    .where(versions.c.timeframe == bindparam("tf"))
    .scalar_subquery(),
    timeframes.c.model_name,
).where(timeframes.c.name == bindparam("tf"))
_MOVE = (
    update(versions)
    .where(versions.c.timeframe == bindparam("tf"))
    .where(versions.c.version == bindparam("number"))
    .values(stage=bindparam("stage"), updated_at=bindparam("at"))
)
_METRICS = select(metrics.c.name, metrics.c.value).where(
    (metrics.c.timeframe == bindparam("tf")) & (metrics.c.version == bindparam("number"))
)
_POLICIES = select(policies.c.timeframe, policies.c.document).where(
    policies.c.id.in_(select(func.max(policies.c.id)).group_by(policies.c.timeframe))
)
_STATUS = (
    select(
        timeframes.c.name,
        timeframes.c.model_name,
        versions.c.version,
        *(timeframes.c[count_column(stage)] for stage in Stage),
    )
    .select_from(timeframes)
    .outerjoin(
        versions,
        (versions.c.timeframe == timeframes.c.name) & _in_stage(Stage.CHAMPION),
    )
    .order_by(timeframes.c.name)
)

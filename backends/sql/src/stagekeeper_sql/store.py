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
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import cached_property
from typing import Any

from sqlalchemy import Connection, Select
from sqlalchemy.exc import IntegrityError

from stagekeeper.domain import approvals
from stagekeeper.domain.approvals import ApprovalRequest
from stagekeeper.domain.errors import ConflictError, LockTimeout
from stagekeeper.domain.identity import Identity
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
from stagekeeper.domain.stages import Stage
from stagekeeper.domain.tokens import ApiToken
from stagekeeper.service.ports import (
    CHOOSES_VERSION_NUMBERS,
    Planner,
    StoreOptions,
    TimeframeSummary,
)
from stagekeeper_sql import migrate, settings
from stagekeeper_sql.damage import damaged
from stagekeeper_sql.engine import (
    WRITE,
    build_engine,
    parse_url,
    require_existing,
    shut,
    translated_errors,
    waited_too_long,
)
from stagekeeper_sql.guard import examined, login_of
from stagekeeper_sql.listening import Listening
from stagekeeper_sql.roles import ManagedAccess
from stagekeeper_sql.schema import (
    change_row,
    changes,
    versions,
)
from stagekeeper_sql.statements import (
    LATEST_AND_MODEL_NAME,
    LOCK_TIMEFRAME,
    METRICS,
    MOVE,
    STATUS,
    ensure_timeframe,
    history_query,
    in_stage,
    keep_requests,
    record_metrics,
    requests_query,
    to_change,
    to_version,
    versions_query,
)
from stagekeeper_sql.summaries import summaries
from stagekeeper_sql.view import LockedView


class SqlStore(ManagedAccess):
    """A ``ModelStore`` in SQLite or PostgreSQL; see ``stagekeeper.service.ports.ModelStore``."""

    capabilities = frozenset({CHOOSES_VERSION_NUMBERS})

    def __init__(self, url: str, options: StoreOptions) -> None:
        self.url = parse_url(url)
        if not options.create:
            require_existing(self.url)
        self.engine = build_engine(self.url, options.lock_timeout)
        self.options = options
        self._listening = Listening(self.url)  # a connection when first asked to wait
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
            ensure_timeframe(connection, registration)
            self._lock(connection, registration.timeframe)
            latest, model_name = connection.execute(
                LATEST_AND_MODEL_NAME, {"tf": registration.timeframe}
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
            record_metrics(connection, registration.timeframe, number, registration.metrics)
        return to_version(row, registration.model_name)

    def transact(self, timeframe: str, planner: Planner) -> Plan | None:
        with self._waiting_for(timeframe), self._write() as connection:
            self._lock(connection, timeframe)
            plan = planner(LockedView(self, connection, timeframe))
            if plan is None:
                return None
            # A plan that records only leads each version where it stands already.
            moves = [
                {"tf": c.timeframe, "number": c.version, "stage": c.to_stage.value, "at": c.at}
                for c in plan.changes
                if c.moves
            ]
            if moves:
                connection.execute(MOVE, moves)
            for number, values in plan.metrics.items():
                record_metrics(connection, timeframe, number, values)
            keep_requests(connection, plan.requests)
            # Inserted under the lock: the ids are the commit order. (The per-stage counts
            # follow by themselves: the schema's triggers keep them.)
            connection.execute(changes.insert(), [change_row(c) for c in plan.changes])
            return plan

    def _lock(self, connection: Connection, timeframe: str) -> None:
        # FOR UPDATE serialises writers of one timeframe on PostgreSQL. SQLite has no row
        # locks: its BEGIN IMMEDIATE has taken the whole file already (see engine.py).
        if connection.dialect.name == "postgresql":
            connection.execute(LOCK_TIMEFRAME, {"timeframe": timeframe})

    # -- reads --------------------------------------------------------------------------

    def get(
        self, timeframe: str, version: int, *, within: Connection | None = None
    ) -> ModelVersion | None:
        found = self._versions(
            versions_query()
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
        query = versions_query().order_by(versions.c.timeframe, versions.c.version)
        if timeframe is not None:
            query = query.where(versions.c.timeframe == timeframe)
        if stage is not None:
            query = query.where(in_stage(stage))
        return self._versions(query, within)

    def champion(self, timeframe: str, *, within: Connection | None = None) -> ModelVersion | None:
        found = self.versions(timeframe, Stage.CHAMPION, within=within)
        return found[0] if found else None

    def status(self) -> list[TimeframeStatus]:
        """One row per timeframe: its kept counts, and its champion through the partial
        unique index. No scan of the versions."""
        with self._read() as connection:
            rows = connection.execute(STATUS).all()
        return [
            TimeframeStatus(name, model_name, champion, dict(zip(Stage, numbers, strict=True)))
            for name, model_name, champion, *numbers in rows
            if any(numbers)
        ]

    def history(
        self,
        timeframe: str | None = None,
        version: int | None = None,
        limit: int | None = None,
        *,
        within: Connection | None = None,
    ) -> list[StageChange]:
        query = history_query(timeframe, version, limit)
        with self._read(within) as connection:
            try:
                return [to_change(row) for row in reversed(connection.execute(query).all())]
            except (ValueError, TypeError) as exc:  # a row changed by hand: say which
                raise damaged(connection, timeframe, exc) from exc

    def _versions(self, query: Select[Any], within: Connection | None) -> list[ModelVersion]:
        with self._read(within) as connection:
            rows = connection.execute(query).all()
        return [to_version(row._mapping, row.model_name) for row in rows]

    def metrics(self, timeframe: str, version: int, *, within: Connection | None = None) -> Metrics:
        with self._read(within) as connection:
            rows = connection.execute(METRICS, {"tf": timeframe, "number": version}).all()
        return {str(name): float(value) for name, value in rows}

    def requests(
        self, timeframe: str | None = None, *, within: Connection | None = None
    ) -> list[ApprovalRequest]:
        query = requests_query(timeframe)
        with self._read(within) as connection:
            documents = connection.execute(query).scalars().all()
        return [approvals.from_document(json.loads(document)) for document in documents]

    def identity(self) -> Identity | None:
        return self._authenticated

    @cached_property
    def _authenticated(self) -> Identity | None:
        with self._read() as connection:
            return login_of(connection)

    # -- policies and delivery cursors (``settings``) ------------------------------------

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
            found = settings.policies_in_force(connection)
        if revision is not None:  # read after the revision: as new as it, or newer
            self._policies = (revision, found)
        return found

    def set_policy(self, change: PolicyChange) -> None:
        with self._waiting_for(None), self._write() as connection:
            settings.append_policy(connection, change)

    def policy_history(self) -> list[PolicyChange]:
        with self._read() as connection:
            return settings.policy_changes(connection)

    def delivered(self, sink: str) -> str | None:
        with self._read() as connection:
            return settings.cursor_of(connection, sink)

    def mark_delivered(self, sink: str, cursor: str) -> None:
        with self._waiting_for(None), self._write() as connection:
            settings.move_cursor(connection, sink, cursor)

    def summaries(self, newest_betas: int) -> list[TimeframeSummary]:
        with self._read() as connection:
            return summaries(connection, newest_betas)

    def tokens(self) -> list[ApiToken]:
        with self._read() as connection:
            return settings.all_tokens(connection)

    def keep_token(self, token: ApiToken) -> None:
        with self._waiting_for(None), self._write() as connection:
            settings.keep_token(connection, token)

    # -- following the history ----------------------------------------------------------

    def wait_for_changes(self, timeout: float) -> bool:
        """PostgreSQL: wait for the changes trigger's NOTIFY (``listening``); SQLite: no
        channel, so just the wait."""
        if self.engine.dialect.name != "postgresql":
            time.sleep(timeout)
            return False
        return self._listening.wait(timeout)

    # -- the database's own guard -------------------------------------------------------

    def examine(self, timeframe: str | None, *, fix: bool) -> list[Finding]:
        with translated_errors(self.url):
            return examined(self.engine, timeframe, fix=fix)

    # -- schema and lifetime ------------------------------------------------------------

    def upgrade_schema(self) -> str:
        with translated_errors(self.url):
            return migrate.upgrade(self.engine)

    def close(self) -> None:
        self._listening.close()
        shut(self.engine)

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


def open_store(url: str, options: StoreOptions) -> SqlStore:
    """Entry point for ``sqlite://`` and ``postgresql[+psycopg]://``."""
    return SqlStore(url, options)

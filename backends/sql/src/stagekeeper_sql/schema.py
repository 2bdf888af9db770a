"""The tables. Alembic migrations (``migrations/``) create and change them; this module
describes the current shape for queries. Table names carry a ``stagekeeper_`` prefix so
the store can share a database with other applications.
"""

from __future__ import annotations

from sqlalchemy import (
    CheckConstraint,
    Column,
    DateTime,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

from stagekeeper.domain.model import StageChange
from stagekeeper.domain.stages import Stage

# Bump with every new migration; a test checks it against Alembic's head.
HEAD_REVISION = "0009"
# PostgreSQL: the channel a trigger notifies when changes are appended (migration 0006).
EVENTS_CHANNEL = "stagekeeper_events"
VERSION_TABLE = "stagekeeper_alembic_version"

metadata = MetaData()


def count_column(stage: Stage) -> str:
    return f"{stage.value}_count"


timeframes = Table(
    "stagekeeper_timeframes",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("model_name", String(255), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # How many versions stand in each stage, kept by triggers on the versions table (see
    # migration 0002), so that ``status`` reads one row per timeframe at any size.
    *(Column(count_column(stage), Integer, nullable=False, server_default="0") for stage in Stage),
)

versions = Table(
    "stagekeeper_versions",
    metadata,
    Column("timeframe", String(32), ForeignKey("stagekeeper_timeframes.name"), primary_key=True),
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("stage", String(16), nullable=False),
    Column("source", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    CheckConstraint(
        "stage IN ('development', 'beta', 'champion', 'archived')", name="stagekeeper_stage_known"
    ),
    # The database's own guard of the invariant, at most one champion per timeframe, is
    # the partial unique index stagekeeper_one_champion (timeframe WHERE stage =
    # 'champion'), created by the migrations. It is not declared here: its dialect options
    # would make every command import PostgreSQL's dialect, about 20 ms even on SQLite.
    Index("stagekeeper_versions_by_stage", "stage"),
    # A timeframe's versions in one stage, already in version order.
    Index("stagekeeper_versions_by_timeframe_stage", "timeframe", "stage", "version"),
)

changes = Table(
    "stagekeeper_changes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("operation_id", String(64), nullable=False),
    Column("timeframe", String(32), nullable=False),
    Column("model_name", String(255), nullable=False),
    Column("version", Integer, nullable=False),
    Column("from_stage", String(16)),
    Column("to_stage", String(16), nullable=False),
    Column("reason", Text),
    Column("actor", String(255), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("cause", String(32), nullable=False),
    Column("detail", Text),
    # Who acted (migration 0008): filled by PostgreSQL from session_user; SQLite records
    # the declared actor. NULL in rows older than identities.
    Column("identity_name", String(255)),
    Column("identity_source", String(16)),
    Index("stagekeeper_changes_by_version", "timeframe", "version", "id"),
    Index("stagekeeper_changes_by_timeframe", "timeframe", "id"),
    # A rollback's target: the newest crowning of a timeframe, found without a scan.
    Index("stagekeeper_changes_crowning", "timeframe", "to_stage", "id"),
)

metrics = Table(
    "stagekeeper_metrics",
    metadata,
    Column("timeframe", String(32), primary_key=True),
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("name", String(64), primary_key=True),
    Column("value", Float, nullable=False),
    ForeignKeyConstraint(
        ["timeframe", "version"],
        ["stagekeeper_versions.timeframe", "stagekeeper_versions.version"],
        name="stagekeeper_metrics_version",
    ),
)

# Append-only: the newest row of a scope is its document in force.
policies = Table(
    "stagekeeper_policies",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("operation_id", String(64), nullable=False),
    Column("timeframe", String(32)),  # NULL: the default policy
    Column("document", Text, nullable=False),  # canonical JSON
    Column("actor", String(255), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("reason", Text),
    Index("stagekeeper_policies_by_scope", "timeframe", "id"),
)

requests = Table(
    "stagekeeper_requests",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("timeframe", String(32), nullable=False),
    Column("version", Integer, nullable=False),
    Column("state", String(16), nullable=False),
    Column("requested_at", DateTime(timezone=True), nullable=False),
    Column("document", Text, nullable=False),  # the request, as JSON
    Index("stagekeeper_requests_by_timeframe", "timeframe", "requested_at"),
)

# How far each event sink has received the stream (``stagekeeper events deliver``).
# Facts about the store itself; ``written_by``: the stagekeeper-sql that last upgraded the
# schema, so that an older one opening it can say which version to install (migration 0007).
meta = Table(
    "stagekeeper_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)
WRITTEN_BY = "written_by"

# The console's API tokens (migration 0009): digests only.
tokens = Table(
    "stagekeeper_tokens",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("user_name", String(255), nullable=False),
    Column("role", String(16), nullable=False),
    Column("digest", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
    Column("expires_at", DateTime(timezone=True)),
)

deliveries = Table(
    "stagekeeper_deliveries",
    metadata,
    Column("sink", String(64), primary_key=True),
    Column("cursor", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)


def change_row(change: StageChange) -> dict[str, object]:
    """A stage change as a row of ``stagekeeper_changes``: the schema's own mapping, apart
    from the public JSON (``stagekeeper.cli.render``), so that either can change alone."""
    return {
        "operation_id": change.operation_id,
        "timeframe": change.timeframe,
        "model_name": change.model_name,
        "version": change.version,
        "from_stage": None if change.from_stage is None else change.from_stage.value,
        "to_stage": change.to_stage.value,
        "reason": change.reason,
        "actor": change.actor,
        "at": change.at,
        "cause": change.cause.value,
        "detail": change.detail,
        # NULL for a declared actor; PostgreSQL's trigger writes its login over either.
        "identity_name": None if change.identity is None else change.identity.name,
        "identity_source": None if change.identity is None else change.identity.source,
    }

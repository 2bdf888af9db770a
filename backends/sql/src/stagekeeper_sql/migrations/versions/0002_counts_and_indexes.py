"""Flat cost as registries grow: per-stage counts kept on each timeframe by triggers, and
indexes for listing a timeframe by stage, its newest changes, and its former champions.

The triggers keep the counts true whoever writes the versions table, stagekeeper or a
hand-written UPDATE, at no extra round trip.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

STAGES = ("development", "beta", "champion", "archived")


def upgrade() -> None:
    for stage in STAGES:
        op.add_column(
            "stagekeeper_timeframes",
            sa.Column(f"{stage}_count", sa.Integer, nullable=False, server_default="0"),
        )
        op.execute(
            f"UPDATE stagekeeper_timeframes SET {stage}_count = (SELECT count(*) FROM "
            "stagekeeper_versions v WHERE v.timeframe = stagekeeper_timeframes.name "
            f"AND v.stage = '{stage}')"
        )
    if op.get_bind().dialect.name == "postgresql":
        for statement in _POSTGRESQL_TRIGGERS:
            op.execute(statement)
    else:
        for statement in _SQLITE_TRIGGERS:
            op.execute(statement)
    op.create_index(
        "stagekeeper_versions_by_timeframe_stage",
        "stagekeeper_versions",
        ["timeframe", "stage", "version"],
    )
    # One version's changes, newest first, without a sort.
    op.drop_index("stagekeeper_changes_by_version", "stagekeeper_changes")
    op.create_index(
        "stagekeeper_changes_by_version", "stagekeeper_changes", ["timeframe", "version", "id"]
    )
    op.create_index("stagekeeper_changes_by_timeframe", "stagekeeper_changes", ["timeframe", "id"])
    op.create_index(
        "stagekeeper_changes_crowning",
        "stagekeeper_changes",
        ["timeframe", "to_stage", "id"],
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER stagekeeper_count_changed ON stagekeeper_versions")
        op.execute("DROP TRIGGER stagekeeper_count_added_or_removed ON stagekeeper_versions")
        op.execute("DROP FUNCTION stagekeeper_count_stages()")
    else:
        for name in ("added", "removed", "changed"):
            op.execute(f"DROP TRIGGER stagekeeper_count_{name}")
    op.drop_index("stagekeeper_changes_crowning", "stagekeeper_changes")
    op.drop_index("stagekeeper_changes_by_timeframe", "stagekeeper_changes")
    op.drop_index("stagekeeper_versions_by_timeframe_stage", "stagekeeper_versions")
    op.drop_index("stagekeeper_changes_by_version", "stagekeeper_changes")
    op.create_index(
        "stagekeeper_changes_by_version", "stagekeeper_changes", ["timeframe", "version"]
    )
    for stage in STAGES:  # SQLite 3.35+ drops a column in place (a batch copy would trip
        # the versions' foreign key)
        op.execute(f"ALTER TABLE stagekeeper_timeframes DROP COLUMN {stage}_count")


def _delta(sign: str, row: str, cast: str = "") -> str:
    """``x_count = x_count + (ROW.stage = 'x')`` for every stage."""
    return ", ".join(
        f"{stage}_count = {stage}_count {sign} ({row}.stage = '{stage}'){cast}" for stage in STAGES
    )


_SQLITE_TRIGGERS = [
    "CREATE TRIGGER stagekeeper_count_added AFTER INSERT ON stagekeeper_versions BEGIN "
    f"UPDATE stagekeeper_timeframes SET {_delta('+', 'NEW')} WHERE name = NEW.timeframe; END",
    "CREATE TRIGGER stagekeeper_count_removed AFTER DELETE ON stagekeeper_versions BEGIN "
    f"UPDATE stagekeeper_timeframes SET {_delta('-', 'OLD')} WHERE name = OLD.timeframe; END",
    "CREATE TRIGGER stagekeeper_count_changed AFTER UPDATE OF stage ON stagekeeper_versions "
    "WHEN OLD.stage <> NEW.stage BEGIN "
    f"UPDATE stagekeeper_timeframes SET {_delta('-', 'OLD')} WHERE name = OLD.timeframe; "
    f"UPDATE stagekeeper_timeframes SET {_delta('+', 'NEW')} WHERE name = NEW.timeframe; END",
]

_POSTGRESQL_TRIGGERS = [
    "CREATE FUNCTION stagekeeper_count_stages() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN "
    "IF TG_OP IN ('UPDATE', 'DELETE') THEN UPDATE stagekeeper_timeframes SET "
    f"{_delta('-', 'OLD', '::int')} WHERE name = OLD.timeframe; END IF; "
    "IF TG_OP IN ('UPDATE', 'INSERT') THEN UPDATE stagekeeper_timeframes SET "
    f"{_delta('+', 'NEW', '::int')} WHERE name = NEW.timeframe; END IF; "
    "RETURN NULL; END $$",
    "CREATE TRIGGER stagekeeper_count_added_or_removed AFTER INSERT OR DELETE "
    "ON stagekeeper_versions FOR EACH ROW EXECUTE FUNCTION stagekeeper_count_stages()",
    "CREATE TRIGGER stagekeeper_count_changed AFTER UPDATE OF stage ON stagekeeper_versions "
    "FOR EACH ROW WHEN (OLD.stage IS DISTINCT FROM NEW.stage) "
    "EXECUTE FUNCTION stagekeeper_count_stages()",
]

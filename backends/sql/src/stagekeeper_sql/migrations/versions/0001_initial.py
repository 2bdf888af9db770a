"""The first schema: timeframes, versions with one champion each, and the change log.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_CHAMPION_ONLY = sa.text("stage = 'champion'")


def upgrade() -> None:
    op.create_table(
        "stagekeeper_timeframes",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("model_name", sa.String(255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "stagekeeper_versions",
        sa.Column(
            "timeframe",
            sa.String(32),
            sa.ForeignKey("stagekeeper_timeframes.name"),
            primary_key=True,
        ),
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("stage", sa.String(16), nullable=False),
        sa.Column("source", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "stage IN ('development', 'beta', 'champion', 'archived')",
            name="stagekeeper_stage_known",
        ),
    )
    op.create_index(
        "stagekeeper_one_champion",
        "stagekeeper_versions",
        ["timeframe"],
        unique=True,
        sqlite_where=_CHAMPION_ONLY,
        postgresql_where=_CHAMPION_ONLY,
    )
    op.create_index("stagekeeper_versions_by_stage", "stagekeeper_versions", ["stage"])
    op.create_table(
        "stagekeeper_changes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("operation_id", sa.String(64), nullable=False),
        sa.Column("timeframe", sa.String(32), nullable=False),
        sa.Column("model_name", sa.String(255), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("from_stage", sa.String(16)),
        sa.Column("to_stage", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cause", sa.String(32), nullable=False),
    )
    op.create_index(
        "stagekeeper_changes_by_version", "stagekeeper_changes", ["timeframe", "version"]
    )


def downgrade() -> None:
    op.drop_table("stagekeeper_changes")
    op.drop_table("stagekeeper_versions")
    op.drop_table("stagekeeper_timeframes")

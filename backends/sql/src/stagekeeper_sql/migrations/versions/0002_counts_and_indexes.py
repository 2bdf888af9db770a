"""Flat cost as registries grow: per-stage counts kept on each timeframe, and indexes for
listing a timeframe by stage, its newest changes, and its former champions.

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

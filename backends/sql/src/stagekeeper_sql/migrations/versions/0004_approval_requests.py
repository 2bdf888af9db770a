"""Approval requests: one row each, the request as a JSON document, its state and
timeframe in columns of their own for the queries.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stagekeeper_requests",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("timeframe", sa.String(32), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("document", sa.Text, nullable=False),
    )
    op.create_index(
        "stagekeeper_requests_by_timeframe", "stagekeeper_requests", ["timeframe", "requested_at"]
    )


def downgrade() -> None:
    op.drop_index("stagekeeper_requests_by_timeframe", "stagekeeper_requests")
    op.drop_table("stagekeeper_requests")

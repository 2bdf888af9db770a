"""Evidence and policies: metrics on versions, the policy documents with their history, and
a detail on each history entry (the metrics recorded, the gates a forced move bypassed).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("stagekeeper_changes") as batch:
        batch.add_column(sa.Column("detail", sa.Text))
    op.create_table(
        "stagekeeper_metrics",
        sa.Column("timeframe", sa.String(32), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.Float, nullable=False),
        sa.ForeignKeyConstraint(
            ["timeframe", "version"],
            ["stagekeeper_versions.timeframe", "stagekeeper_versions.version"],
            name="stagekeeper_metrics_version",
        ),
    )
    op.create_table(
        "stagekeeper_policies",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("operation_id", sa.String(64), nullable=False),
        sa.Column("timeframe", sa.String(32)),  # NULL: the default policy
        sa.Column("document", sa.Text, nullable=False),  # canonical JSON
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text),
    )
    # The document in force per scope: the newest row of each, without a sort.
    op.create_index("stagekeeper_policies_by_scope", "stagekeeper_policies", ["timeframe", "id"])


def downgrade() -> None:
    op.drop_index("stagekeeper_policies_by_scope", "stagekeeper_policies")
    op.drop_table("stagekeeper_policies")
    op.drop_table("stagekeeper_metrics")
    with op.batch_alter_table("stagekeeper_changes") as batch:
        batch.drop_column("detail")

"""Who acted, on every change: the identity's name and its source. On PostgreSQL the
database fills them from ``session_user`` (the login it checked, which ``SET ROLE`` does
not change), whatever a client supplies; SQLite records the declared actor.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("stagekeeper_changes") as table:
        table.add_column(sa.Column("identity_name", sa.String(255)))
        table.add_column(sa.Column("identity_source", sa.String(16)))
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "CREATE FUNCTION stagekeeper_stamp_identity() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN NEW.identity_name := session_user; NEW.identity_source := 'postgresql'; "
        "RETURN NEW; END $$"
    )
    op.execute(
        "CREATE TRIGGER stagekeeper_changes_identity BEFORE INSERT ON stagekeeper_changes "
        "FOR EACH ROW EXECUTE FUNCTION stagekeeper_stamp_identity()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER stagekeeper_changes_identity ON stagekeeper_changes")
        op.execute("DROP FUNCTION stagekeeper_stamp_identity()")
    with op.batch_alter_table("stagekeeper_changes") as table:
        table.drop_column("identity_source")
        table.drop_column("identity_name")

"""PostgreSQL tells listeners when the history grows: a statement trigger on the changes
table sends ``NOTIFY stagekeeper_events``, delivered when the writer's transaction commits,
at no extra round trip. ``stagekeeper events --follow`` listens instead of polling. SQLite
has no such channel: followers poll there.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

CHANNEL = "stagekeeper_events"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "CREATE FUNCTION stagekeeper_notify_events() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN PERFORM pg_notify('{CHANNEL}', ''); RETURN NULL; END $$"
    )
    op.execute(
        "CREATE TRIGGER stagekeeper_changes_notify AFTER INSERT ON stagekeeper_changes "
        "FOR EACH STATEMENT EXECUTE FUNCTION stagekeeper_notify_events()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER stagekeeper_changes_notify ON stagekeeper_changes")
    op.execute("DROP FUNCTION stagekeeper_notify_events()")

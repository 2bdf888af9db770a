"""Alembic environment: runs on the connection that ``stagekeeper_sql.migrate`` passes in."""

from __future__ import annotations

from alembic import context

from stagekeeper_sql.schema import VERSION_TABLE, metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, version_table=VERSION_TABLE)
with context.begin_transaction():
    context.run_migrations()

"""``stagekeeper db upgrade``: bring a store's schema to this version of stagekeeper."""

from __future__ import annotations

from stagekeeper.cli import options
from stagekeeper.cli.session import command_session

db_app = options.command_group("db", "Manage the store's schema.")


@db_app.command("upgrade")
def upgrade(
    store: options.Store = None,
    actor: options.Actor = None,
    json_output: options.Json = False,
) -> None:
    """Upgrade the store's schema to the version this stagekeeper expects."""
    with command_session(json_output) as session:
        registry = session.open(store, actor, writes=True, check_schema=False)
        revision = registry.upgrade_schema()
        message = (
            f"Schema is at revision {revision}."
            if revision
            else "This store has no schema to upgrade."
        )
        session.emit({"revision": revision}, lambda console: console.print(message))

"""``stagekeeper status``: each timeframe's champion and stage counts."""

from __future__ import annotations

from stagekeeper.cli import options, render, tables
from stagekeeper.cli.session import command_session


def status(
    store: options.Store = None,
    actor: options.Actor = None,
    json_output: options.Json = False,
) -> None:
    """Show each timeframe's champion and how many versions are in each stage."""
    with command_session(json_output) as session:
        statuses = session.open(store, actor, writes=False).status()
        session.emit(
            [render.status_data(s) for s in statuses],
            lambda console: tables.show(
                console, render.status_table(statuses), "No model versions registered yet."
            ),
        )

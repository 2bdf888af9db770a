"""``stagekeeper history``: the audit trail, oldest first."""

from __future__ import annotations

from typing import Annotated

import typer

from stagekeeper.cli import options, render, tables
from stagekeeper.cli.session import command_session


def history(
    timeframe: options.OptionalTimeframe = None,
    model_version: options.OptionalVersion = None,
    limit: Annotated[
        str | None,
        typer.Option(
            "--limit", metavar="N", help="Show only the N most recent changes.", show_default=False
        ),
    ] = None,
    store: options.Store = None,
    actor: options.Actor = None,
    json_output: options.Json = False,
    no_pager: options.NoPager = False,
) -> None:
    """Show who moved which version, when and why (through $PAGER on a terminal)."""
    with command_session(json_output) as session:
        changes = session.open(store, actor, writes=False).history(timeframe, model_version, limit)
        session.emit(
            [render.change_data(c) for c in changes],
            lambda console: tables.show(
                console, render.changes_table(changes), "No changes recorded."
            ),
            paged=not no_pager,
        )

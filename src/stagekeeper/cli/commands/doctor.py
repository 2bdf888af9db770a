"""``stagekeeper doctor``: find, and with ``--fix`` repair, disagreements in the store."""

from __future__ import annotations

from typing import Annotated

import typer

from stagekeeper.cli import options, render, tables
from stagekeeper.cli.session import command_session


def doctor(
    timeframe: options.OptionalTimeframe = None,
    fix: Annotated[bool, options.flag("--fix", "Repair what can be repaired.")] = False,
    store: options.Store = None,
    actor: options.Actor = None,
    json_output: options.Json = False,
) -> None:
    """Check the store for disagreements; exit 1 while any remains unrepaired."""
    with command_session(json_output) as session:
        findings = session.open(store, actor, writes=fix).doctor(timeframe, fix=fix)
        session.emit(
            render.findings_data(findings),
            lambda console: tables.show(
                console, render.findings_table(findings), "No problems found."
            ),
        )
    if not render.healthy(findings):
        raise typer.Exit(1)

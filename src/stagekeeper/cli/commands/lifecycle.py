"""``stagekeeper lifecycle``: the allowed moves, drawn from the state machine itself."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer
from rich.table import Table

from stagekeeper import lifecycle as machine
from stagekeeper.cli import options
from stagekeeper.cli.session import command_session


class Format(StrEnum):
    TABLE = "table"
    MERMAID = "mermaid"


def lifecycle(
    output_format: Annotated[
        Format, typer.Option("--format", help="table for people, mermaid for diagrams.")
    ] = Format.TABLE,
    store: options.Store = None,  # noqa: ARG001 - every command takes them; this one needs none
    actor: options.Actor = None,  # noqa: ARG001
    json_output: options.Json = False,
) -> None:
    """Show which stage moves are allowed (the store and actor are not used)."""
    with command_session(json_output) as session:
        edges = machine.edges()
        if output_format is Format.MERMAID and not json_output:
            print(machine.mermaid(), end="")
            return
        table = Table("from", "to", "how")
        for source, target, rollback_only in edges:
            table.add_row(
                source.value, target.value, "rollback only" if rollback_only else "promote"
            )
        session.emit(
            {
                "moves": [
                    {"from": s.value, "to": t.value, "rollback_only": r} for s, t, r in edges
                ],
                "mermaid": machine.mermaid(),
            },
            lambda console: console.print(table),
        )

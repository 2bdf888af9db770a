"""``stagekeeper lifecycle``: the allowed moves, drawn from the state machine itself."""

from __future__ import annotations

from typing import Annotated

import typer

from stagekeeper.cli import options, render, tables
from stagekeeper.cli.session import command_session
from stagekeeper.domain.errors import ValidationError

FORMATS = ("table", "mermaid")


def lifecycle(
    output_format: Annotated[
        str,
        typer.Option(
            "--format", metavar="table|mermaid", help="table for people, mermaid for diagrams."
        ),
    ] = "table",
    store: options.Store = None,  # noqa: ARG001 - every command takes them; this one needs none
    actor: options.Actor = None,  # noqa: ARG001
    json_output: options.Json = False,
) -> None:
    """Show which stage moves are allowed (the store and actor are not used)."""
    with command_session(json_output) as session:
        if output_format.lower() not in FORMATS:
            raise ValidationError(
                f"unknown format {output_format[:40]!r}: expected {' or '.join(FORMATS)}"
            )
        from stagekeeper.domain import lifecycle as machine  # transitions: only here

        edges = machine.edges()
        if output_format.lower() == "mermaid" and not json_output:
            session.say(machine.mermaid())
            return
        session.emit(
            render.moves_data(edges, machine.mermaid()),
            lambda console: tables.show(console, render.moves_table(edges)),
        )

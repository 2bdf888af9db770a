"""``stagekeeper rollback``: bring back the previous champion."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from stagekeeper.cli import options, render, tables
from stagekeeper.cli.session import command_session


def rollback(
    timeframe: options.Timeframe,
    to_version: Annotated[
        str | None,
        typer.Option(
            "--to-version",
            metavar="N",
            help="Former champion to restore. Default: the most recent one.",
            show_default=False,
        ),
    ] = None,
    reason: options.Reason = None,
    store: options.Store = None,
    actor: options.Actor = None,
    json_output: options.Json = False,
) -> None:
    """Archive the champion and restore the previous champion (or --to-version).

    Rolling back twice swaps between the same two versions: the one just archived is the
    most recent former champion. Name --to-version N to go further back."""
    with command_session(json_output) as session:
        registry = session.open(store, actor, writes=True)
        changes = registry.rollback(timeframe, to_version, reason=reason)
        already = f"Version {to_version} of {timeframe} is already champion; nothing changed."

        def show(console: Any) -> None:
            tables.show(console, render.changes_table(changes), already)
            if changes:
                console.print(
                    f"v{changes[-1].version} is champion again. Rolling back again would bring "
                    "back the version just archived; --to-version N goes further back."
                )

        session.emit({"changes": [render.change_data(c) for c in changes]}, show)

"""``stagekeeper mlflow ...``: this backend's own commands, attached to the core CLI through
the ``stagekeeper.commands`` entry point, so that the core CLI names no backend.

Imports nothing of MLflow until a command runs: ``stagekeeper --help`` lists this group.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from stagekeeper.cli import options, render, tables
from stagekeeper.cli.session import command_session

if TYPE_CHECKING:
    from rich.console import Console

app = options.command_group("mlflow", "MLflow-specific commands.")


@app.command("migrate-stages")
def migrate_stages(
    timeframe: options.OptionalTimeframe = None,
    dry_run: Annotated[
        bool, options.flag("--dry-run", "Print the plan and change nothing.")
    ] = False,
    winner: Annotated[
        str | None,
        typer.Option(
            "--winner",
            metavar="N",
            show_default=False,
            help="With --timeframe: the version that stays champion when several are "
            "Production; the others are archived.",
        ),
    ] = None,
    reason: options.Reason = None,
    store: options.Store = None,
    actor: options.Actor = None,
    json_output: options.Json = False,
) -> None:
    """Map legacy stages (Production, Staging, None, Archived) to stagekeeper's."""
    with command_session(json_output) as session:
        from stagekeeper_mlflow.migration import migrate_legacy_stages

        registry = session.open(store, actor, writes=not dry_run)
        changes = migrate_legacy_stages(
            registry, timeframe, winner=winner, dry_run=dry_run, reason=reason
        )
        headline = "Plan (dry run, nothing changed):" if dry_run else "Migrated:"
        nothing = "Nothing to migrate." if not dry_run else "Nothing would change."

        def show(console: Console) -> None:
            if changes:
                console.print(headline)
            tables.show(console, render.changes_table(changes), nothing)

        session.emit(
            {"dry_run": dry_run, "changes": [render.change_data(c) for c in changes]}, show
        )

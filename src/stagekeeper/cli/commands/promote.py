"""``stagekeeper promote``: move a version to another stage, through the policy's gates."""

from __future__ import annotations

from typing import Annotated

import typer

from stagekeeper.cli import options, render
from stagekeeper.cli.commands.check import show_check
from stagekeeper.cli.session import command_session


def promote(
    timeframe: options.Timeframe,
    model_version: options.Version,
    target_stage: options.TargetStage,
    reason: options.Reason = None,
    force: Annotated[
        bool,
        options.flag(
            "--force",
            "Go past the policy's gates (never the lifecycle); needs --reason, and is "
            "recorded as forced with the gates that failed.",
        ),
    ] = False,
    dry_run: Annotated[
        bool,
        options.flag("--dry-run", "Only check: show every gate, change nothing (as check)."),
    ] = False,
    store: options.Store = None,
    actor: options.Actor = None,
    json_output: options.Json = False,
) -> None:
    """Move a version to a stage; a new champion archives the old one in the same step."""
    with command_session(json_output) as session:
        registry = session.open(store, actor, writes=not dry_run)
        if dry_run:
            results = registry.check(timeframe, model_version, target_stage, reason=reason)
            if not show_check(session, results):
                raise typer.Exit(1)
            return
        changes = registry.promote(
            timeframe, model_version, target_stage, reason=reason, force=force
        )
        already = (
            f"Version {model_version} of {registry.model_name(timeframe)} is already "
            f"{target_stage.lower()}; nothing changed."
        )
        session.emit(
            {"changes": [render.change_data(c) for c in changes]},
            lambda console: render.show_empty_or(console, render.changes_table(changes), already),
        )

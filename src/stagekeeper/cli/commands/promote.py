"""``stagekeeper promote``: move a version to another stage, through the policy's gates."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from stagekeeper.cli import options, render, tables
from stagekeeper.cli.commands.check import show_check
from stagekeeper.cli.session import command_session
from stagekeeper.domain.errors import ValidationError
from stagekeeper.domain.stages import Cause, Stage


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
        if dry_run and force:
            raise ValidationError(
                "--dry-run shows the gates a move would face, and --force goes past them: "
                "give one of the two"
            )
        registry = session.open(store, actor, writes=not dry_run)
        if dry_run:
            results = registry.check(timeframe, model_version, target_stage, reason=reason)
            if not show_check(session, results):
                raise typer.Exit(1)
            return
        changes = registry.promote(
            timeframe, model_version, target_stage, reason=reason, force=force
        )
        waits = not changes or changes[-1].cause is Cause.REQUEST  # else the move was made
        request = (
            registry.pending_request(timeframe, model_version, target_stage) if waits else None
        )
        if request is not None:
            session.emit(
                {"status": "pending", "changes": [render.change_data(c) for c in changes],
                 "request": render.request_data(request)},
                lambda console: console.print(
                    f"Waiting for approval: request {request.id} needs {request.remaining} more "
                    f"(stagekeeper approve --request {request.id}); expires "
                    f"{render.timestamp(request.expires_at)}."
                ),
            )  # fmt: skip
            return
        already = (
            f"Version {model_version} of {registry.model_name(timeframe)} is already "
            f"{target_stage.lower()}; nothing changed."
        )
        dethroned = bool(changes) and changes[-1].from_stage is Stage.CHAMPION

        def show(console: Any) -> None:
            tables.show(console, render.changes_table(changes), already)
            if dethroned:  # no crowning in the same step: the timeframe is left without one
                console.print(f"{timeframe} has no champion now.")

        session.emit(
            {"status": "done", "changes": [render.change_data(c) for c in changes],
             "request": None},
            show,
        )  # fmt: skip

"""``stagekeeper promote``: move a version to another stage."""

from __future__ import annotations

from stagekeeper.cli import options, render
from stagekeeper.cli.session import command_session


def promote(
    timeframe: options.Timeframe,
    model_version: options.Version,
    target_stage: options.TargetStage,
    reason: options.Reason = None,
    store: options.Store = None,
    actor: options.Actor = None,
    json_output: options.Json = False,
) -> None:
    """Move a version to a stage; a new champion archives the old one in the same step."""
    with command_session(json_output) as session:
        registry = session.open(store, actor, writes=True)
        changes = registry.promote(timeframe, model_version, target_stage, reason=reason)
        already = (
            f"Version {model_version} of {registry.model_name(timeframe)} is already "
            f"{target_stage.lower()}; nothing changed."
        )
        session.emit(
            {"changes": [render.change_data(c) for c in changes]},
            lambda console: render.show_empty_or(console, render.changes_table(changes), already),
        )

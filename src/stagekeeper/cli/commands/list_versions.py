"""``stagekeeper list``: versions by timeframe and stage."""

from __future__ import annotations

from stagekeeper.cli import options, render, tables
from stagekeeper.cli.session import command_session


def list_versions(
    timeframe: options.OptionalTimeframe = None,
    stage: options.OptionalStage = None,
    store: options.Store = None,
    actor: options.Actor = None,
    json_output: options.Json = False,
) -> None:
    """List model versions, optionally of one timeframe and one stage."""
    with command_session(json_output) as session:
        versions = session.open(store, actor, writes=False).list(timeframe, stage)
        session.emit(
            [render.version_data(v) for v in versions],
            lambda console: tables.show(
                console, render.versions_table(versions), "No model versions match."
            ),
        )

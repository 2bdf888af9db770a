"""``stagekeeper list``: versions by timeframe and stage, with their metrics on request."""

from __future__ import annotations

from typing import Annotated

from stagekeeper.cli import options, render, tables
from stagekeeper.cli.session import command_session


def list_versions(
    timeframe: options.OptionalTimeframe = None,
    stage: options.OptionalStage = None,
    metrics: Annotated[
        bool, options.flag("--metrics", "Show each version's metrics, a column each.")
    ] = False,
    store: options.Store = None,
    actor: options.Actor = None,
    json_output: options.Json = False,
) -> None:
    """List model versions, optionally of one timeframe and one stage."""
    with command_session(json_output) as session:
        registry = session.open(store, actor, writes=False)
        versions = registry.list(timeframe, stage)
        found = [registry.metrics(v.timeframe, v.version) for v in versions] if metrics else None
        session.emit(
            [
                render.version_data(v)
                | ({} if found is None else {"metrics": dict(sorted(found[i].items()))})
                for i, v in enumerate(versions)
            ],
            lambda console: tables.show(
                console, render.versions_table(versions, found), "No model versions match."
            ),
        )

"""``stagekeeper register``: add a version in development."""

from __future__ import annotations

from typing import Annotated

import typer

from stagekeeper.cli import options, render
from stagekeeper.cli.session import command_session
from stagekeeper.domain import validation


def register(
    timeframe: options.Timeframe,
    model_version: options.NewVersion = None,
    source: Annotated[
        str | None,
        typer.Option(
            "--source", metavar="URI", help="Where the model lives, e.g. runs:/<id>/model."
        ),
    ] = None,
    metric: options.Metrics = None,
    reason: options.Reason = None,
    store: options.Store = None,
    actor: options.Actor = None,
    json_output: options.Json = False,
) -> None:
    """Register a new model version (the next number unless --model-version is given)."""
    with command_session(json_output) as session:
        registry = session.open(store, actor, writes=True)
        version = registry.register(
            timeframe,
            model_version,
            source=source,
            metrics=validation.metric_assignments(metric or []),
            reason=reason,
        )
        session.emit(
            render.version_data(version),
            lambda console: console.print(
                f"Registered {version.model_name} version {version.version} "
                f"in {version.stage.value}."
            ),
        )

"""``stagekeeper metrics``: read a version's metrics, or record new values."""

from __future__ import annotations

from typing import Annotated

import typer

from stagekeeper.cli import options, render, tables
from stagekeeper.cli.session import command_session
from stagekeeper.domain import validation


def metrics(
    timeframe: options.Timeframe,
    model_version: options.Version,
    set_values: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            metavar="NAME=VALUE",
            help="Record a value, e.g. sharpe=1.42; repeat for more. A replaced value is "
            "kept in the history.",
            show_default=False,
        ),
    ] = None,
    reason: options.Reason = None,
    store: options.Store = None,
    actor: options.Actor = None,
    json_output: options.Json = False,
) -> None:
    """Show a version's metrics; with --set, record values first."""
    with command_session(json_output) as session:
        values = validation.metric_assignments(set_values or [])
        registry = session.open(store, actor, writes=bool(values))
        if values:
            registry.set_metrics(timeframe, model_version, values, reason=reason)
        version = registry.get(timeframe, model_version)
        found = registry.metrics(timeframe, model_version)
        session.emit(
            render.metrics_data(version, found),
            lambda console: tables.show(
                console,
                render.metrics_table(found),
                f"Version {version.version} of {version.model_name} has no metrics.",
            ),
        )

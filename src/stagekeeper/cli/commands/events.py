"""``stagekeeper events``: the history as JSON Lines, one event per committed operation."""

from __future__ import annotations

import json
import sys
import time
from typing import Annotated

import typer

from stagekeeper.cli import options
from stagekeeper.cli.session import command_session
from stagekeeper.domain.errors import ValidationError

MIN_INTERVAL, MAX_INTERVAL = 0.1, 60.0


def events(
    timeframe: options.OptionalTimeframe = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            metavar="CURSOR",
            help="Resume after this cursor (an event's cursor field). Default: the start.",
            show_default=False,
        ),
    ] = None,
    follow: Annotated[
        bool, options.flag("--follow", "Keep waiting for new events (Ctrl-C stops).")
    ] = False,
    interval: Annotated[
        float,
        typer.Option(
            "--interval",
            metavar="SECONDS",
            help="With --follow, how often to look for new events (0.1 to 60).",
        ),
    ] = 1.0,
    store: options.Store = None,
    actor: options.Actor = None,
    json_output: options.Json = False,
) -> None:
    """Print events as JSON Lines, oldest first, each with the cursor to resume from."""
    if not MIN_INTERVAL <= interval <= MAX_INTERVAL:
        raise ValidationError(
            f"invalid interval {interval:g}: expected seconds from {MIN_INTERVAL:g} to "
            f"{MAX_INTERVAL:g}"
        )
    with command_session(json_output) as session:
        registry = session.open(store, actor, writes=False)
        from stagekeeper.domain.events import document

        cursor = since
        while True:
            for event in registry.events(timeframe, since=cursor):
                sys.stdout.write(json.dumps(document(event), separators=(",", ":")) + "\n")
                cursor = event.cursor
            sys.stdout.flush()
            if not follow:
                return
            try:
                time.sleep(interval)
            except KeyboardInterrupt:
                return

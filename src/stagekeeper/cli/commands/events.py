"""``stagekeeper events``: the history as JSON Lines, one event per committed operation;
with ``--json``, one document like every command's."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from stagekeeper.adapters.files import read_toml
from stagekeeper.cli import options, paging
from stagekeeper.cli.session import command_session
from stagekeeper.domain.errors import ValidationError

MIN_INTERVAL, MAX_INTERVAL = 0.1, 60.0
Interval = Annotated[
    str,
    typer.Option(
        "--interval",
        metavar="SECONDS",
        help="With --follow, the longest wait before looking again (0.1 to 60); PostgreSQL "
        "says at once when something was committed.",
    ),
]


events_app = typer.Typer(
    name="events",
    help="The history as an event stream, and its delivery to sinks.",
    invoke_without_command=True,
)


@events_app.callback()
def events(
    ctx: typer.Context,
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
    interval: Interval = "1",
    store: options.Store = None,
    actor: options.Actor = None,
    json_output: options.Json = False,
    no_pager: options.NoPager = False,
) -> None:
    """Print events as JSON Lines (the default), oldest first, each with the cursor to
    resume from (through $PAGER on a terminal, unless --follow); with --json, one
    document: {"data": {"events": [...], "cursor": ...}}.

    stagekeeper events deliver --config sinks.toml sends them to sinks instead.
    """
    if ctx.invoked_subcommand is not None:
        return
    seconds = _interval(interval)
    with command_session(json_output) as session:
        if follow and session.json_output:
            raise ValidationError(
                "--json prints one document and --follow never ends: drop --json, "
                "--follow prints JSON Lines"
            )
        registry = session.open(store, actor, writes=False)
        from stagekeeper.domain.events import document

        if session.json_output:
            found = registry.events(timeframe, since=since)
            last = found[-1].cursor if found else since
            session.emit({"events": [document(e) for e in found], "cursor": last}, lambda _: None)
            return
        pager = None if follow else paging.pager_command(turned_off=no_pager)
        if pager is not None:
            found = registry.events(timeframe, since=since)
            paging.page("".join(_line(document(e)) for e in found), pager)
            return
        stream = registry.follow(timeframe, since, interval=seconds, stopped=lambda: not follow)
        try:
            for event in stream:
                sys.stdout.write(_line(document(event)))
                sys.stdout.flush()
        except KeyboardInterrupt:
            return


@events_app.command("deliver")
def deliver(
    config: Annotated[
        Path,
        typer.Option(
            "--config",
            metavar="FILE",
            help="The sinks, in TOML: \\[sinks.<name>] with type webhook, command or a plugin.",
            show_default=False,
        ),
    ],
    follow: Annotated[
        bool, options.flag("--follow", "Keep delivering new events (Ctrl-C stops).")
    ] = False,
    interval: Interval = "1",
    store: options.Store = None,
    actor: options.Actor = None,
    json_output: options.Json = False,
) -> None:
    """Deliver every event to every sink, at least once and in order, from each sink's
    cursor kept in the store; exit 1 if a sink still refused one at the end."""
    from stagekeeper.adapters.sinks import sinks_from
    from stagekeeper.service.delivery import Round
    from stagekeeper.service.delivery import deliver as run

    seconds = _interval(interval)
    sinks = sinks_from(read_toml(config))
    with command_session(json_output) as session:
        # It keeps the sinks' cursors, but a store it did not find is a mistyped URL.
        registry = session.open(store, actor, writes=True, create=False)

        def report(done: Round) -> None:
            for name, reason in done.failures.items():
                sys.stderr.write(f"warning: sink {name} refused an event, retried next: {reason}\n")

        try:
            last = run(registry.store, sinks, follow=follow, interval=seconds, report=report)
        except KeyboardInterrupt:
            return
        session.emit(
            {"delivered": last.delivered, "failures": last.failures},
            lambda console: console.print(
                ", ".join(f"{name}: {n} delivered" for name, n in last.delivered.items())
            ),
        )
    if last.failures:
        raise typer.Exit(1)


def _line(event: dict[str, Any]) -> str:
    return json.dumps(event, separators=(",", ":")) + "\n"


def _interval(text: str) -> float:
    """The seconds --interval gives, in stagekeeper's words when they are no such thing."""
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not MIN_INTERVAL <= seconds <= MAX_INTERVAL:  # NaN is never within
        raise ValidationError(
            f"invalid interval {text[:40]!r}: expected seconds from {MIN_INTERVAL:g} to "
            f"{MAX_INTERVAL:g}"
        )
    return seconds

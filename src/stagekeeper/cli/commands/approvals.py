"""``stagekeeper requests``, ``approve`` and ``reject``: the moves waiting for approval."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from stagekeeper.cli import options, render, tables
from stagekeeper.cli.session import Session, command_session

if TYPE_CHECKING:
    from stagekeeper.domain.model import StageChange

RequestId = Annotated[
    str,
    typer.Option("--request", metavar="ID", help="The request's id.", show_default=False),
]


def requests(
    timeframe: options.OptionalTimeframe = None,
    show_all: Annotated[
        bool, options.flag("--all", "Closed requests too: approved, rejected, expired.")
    ] = False,
    store: options.Store = None,
    actor: options.Actor = None,
    json_output: options.Json = False,
) -> None:
    """List the requests waiting for approval, oldest first."""
    with command_session(json_output) as session:
        found = session.open(store, actor, writes=False).requests(
            timeframe, pending_only=not show_all
        )
        session.emit(
            [render.request_data(r) for r in found],
            lambda console: tables.show(
                console, render.requests_table(found), "No request is waiting for approval."
            ),
        )


def approve(
    request: RequestId,
    reason: options.Reason = None,
    store: options.Store = None,
    actor: options.Actor = None,
    json_output: options.Json = False,
) -> None:
    """Approve a request; the last approval it needs makes the move."""
    with command_session(json_output) as session:
        registry = session.open(store, actor, writes=True)
        _show(session, registry.approve(request, reason=reason))


def reject(
    request: RequestId,
    reason: options.Reason = None,
    store: options.Store = None,
    actor: options.Actor = None,
    json_output: options.Json = False,
) -> None:
    """Reject a request, with a reason; nothing moves."""
    with command_session(json_output) as session:
        registry = session.open(store, actor, writes=True)
        _show(session, registry.reject(request, reason=reason))


def _show(session: Session, changes: list[StageChange]) -> None:
    moved = any(change.moves for change in changes)
    session.emit(
        {
            "status": "done" if moved else "pending",
            "changes": [render.change_data(c) for c in changes],
        },
        lambda console: tables.show(console, render.changes_table(changes)),
    )

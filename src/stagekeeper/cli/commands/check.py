"""``stagekeeper check``: would a promotion be allowed now? Every gate, pass or fail."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from stagekeeper.cli import options, render, tables
from stagekeeper.cli.session import Session, command_session

if TYPE_CHECKING:
    from rich.console import Console

    from stagekeeper.domain.conditions import GateResult


def check(
    timeframe: options.Timeframe,
    model_version: options.Version,
    target_stage: options.TargetStage,
    reason: options.Reason = None,
    store: options.Store = None,
    actor: options.Actor = None,
    json_output: options.Json = False,
) -> None:
    """Evaluate the lifecycle and every gate of the policy; nothing changes.

    Exits 0 only if the move would be allowed now, 1 if not."""
    with command_session(json_output) as session:
        registry = session.open(store, actor, writes=False)
        allowed = show_check(
            session, registry.check(timeframe, model_version, target_stage, reason=reason)
        )
    if not allowed:
        raise typer.Exit(1)


def show_check(session: Session, results: list[GateResult]) -> bool:
    """Print the verdict (``promote --dry-run`` shares it); whether the move is allowed."""
    allowed = render.allowed(results)
    verdict = "Allowed." if allowed else "Refused: a gate failed."

    def show(console: Console) -> None:
        tables.show(console, render.gates_table(results))
        console.print(verdict)

    session.emit(render.gates_data(results), show)
    return allowed

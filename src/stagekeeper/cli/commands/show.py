"""``stagekeeper show``: one version at a glance, what the console's review page shows."""

from __future__ import annotations

from typing import TYPE_CHECKING

from stagekeeper.cli import options, render, tables
from stagekeeper.cli.render import Data
from stagekeeper.cli.session import command_session

if TYPE_CHECKING:
    from rich.console import Console

    from stagekeeper.service.review import Review


def show(
    timeframe: options.Timeframe,
    model_version: options.Version,
    store: options.Store = None,
    actor: options.Actor = None,
    json_output: options.Json = False,
) -> None:
    """Show one version: metrics beside the champion's, gates, requests and history.

    Its stage and source, the gates of each move it could make now, its approval requests
    and its own history; --json gives the same."""
    with command_session(json_output) as session:
        seen = session.open(store, actor, writes=False).review(timeframe, model_version)
        session.emit(review_data(seen), lambda console: draw(console, seen))


def review_data(seen: Review) -> Data:
    return {
        "version": render.version_data(seen.version),
        "champion": None if seen.champion is None else render.version_data(seen.champion),
        "metrics": [
            {"name": m.name, "value": m.value, "champion": m.champion, "difference": m.difference}
            for m in seen.metrics
        ],
        "moves": [{"target": t.value, **render.gates_data(g)} for t, g in seen.moves],
        "requests": [render.request_data(r) for r in seen.requests],
        "history": [render.change_data(c) for c in seen.history],
    }


def draw(console: Console, seen: Review) -> None:
    v, champion = seen.version, seen.champion
    theirs = "-" if champion is None else render.label(champion.version)
    facts = [("stage", v.stage.value), ("model", v.model_name), ("source", v.source or "-"),
             ("registered (UTC)", render.short_time(v.created_at)),
             ("moved (UTC)", render.short_time(v.updated_at)), ("champion", theirs)]  # fmt: skip
    console.print(f"{render.named(v.timeframe, v.version)}", style="bold")
    tables.show_record(console, facts, staged="stage")
    if seen.metrics:
        console.print()
        tables.show(console, metrics_compared(seen, theirs))
    for target, gates in seen.moves:
        verdict = "allowed" if render.allowed(gates) else "refused"
        console.print(f"\nTo {target.value}: {verdict}", style="bold")
        tables.show(console, render.gates_table(gates))
    if seen.requests:
        console.print("\nRequests", style="bold")
        tables.show(console, render.requests_table(seen.requests))
    console.print("\nHistory", style="bold")
    tables.show(console, render.changes_table(seen.history))


def metrics_compared(seen: Review, theirs: str) -> tables.Grid:
    return tables.filled(
        ("metric", render.label(seen.version.version), f"champion {theirs}", "difference"),
        [(m.name, render.number(m.value), render.number(m.champion),
          "" if m.difference is None else f"{m.difference:+g}")
         for m in seen.metrics],
    )  # fmt: skip

"""``stagekeeper policy``: the promotion policy kept in the store, for everyone who writes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from stagekeeper.cli import options, render
from stagekeeper.cli.files import read_toml
from stagekeeper.cli.session import command_session

policy_app = options.command_group(
    "policy", "Show or set the promotion policy: the gates a move must pass."
)

PolicyFile = Annotated[
    Path,
    typer.Option(
        "--file",
        metavar="FILE",
        help="A TOML policy (see the README), or - for standard input.",
        show_default=False,
    ),
]
Scope = Annotated[
    str | None,
    typer.Option(
        "--timeframe",
        metavar="TF",
        help="The timeframe's own policy; its sections replace the default's.",
        show_default=False,
    ),
]


@policy_app.command("show")
def show(
    timeframe: Scope = None,
    store: options.Store = None,
    actor: options.Actor = None,
    json_output: options.Json = False,
) -> None:
    """Show the policy in force (a timeframe's, with --timeframe), as TOML."""
    with command_session(json_output) as session:
        policy = session.open(store, actor, writes=False).policy(timeframe)
        document = {key: dict(section) for key, section in policy.document.items()}
        session.emit({"timeframe": timeframe, "policy": document}, lambda _console: None)
        session.say(
            _toml(document) or "# no policy: every move the lifecycle allows goes through\n"
        )


@policy_app.command("set")
def set_policy(
    file: PolicyFile,
    timeframe: Scope = None,
    reason: options.Reason = None,
    store: options.Store = None,
    actor: options.Actor = None,
    json_output: options.Json = False,
) -> None:
    """Replace the default policy, or a timeframe's own; recorded in the policy history."""
    with command_session(json_output) as session:
        document = read_toml(file)
        registry = session.open(store, actor, writes=True)
        change = registry.set_policy(document, timeframe=timeframe, reason=reason)
        scope = "the default policy" if timeframe is None else f"the policy of {timeframe}"
        session.emit(
            render.policy_change_data(change),
            lambda console: console.print(f"Set {scope} (operation {change.operation_id})."),
        )


@policy_app.command("history")
def history(
    store: options.Store = None,
    actor: options.Actor = None,
    json_output: options.Json = False,
) -> None:
    """Every policy change: who, when, why, oldest first."""
    with command_session(json_output) as session:
        changes = session.open(store, actor, writes=False).policy_history()
        session.emit(
            [render.policy_change_data(c) for c in changes],
            lambda console: render.show_empty_or(
                console, render.policy_changes_table(changes), "No policy has been set."
            ),
        )


def _toml(document: dict[str, Any]) -> str:
    import tomli_w

    return tomli_w.dumps(document)

"""``stagekeeper policy``: the promotion policy kept in the store, for everyone who writes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from stagekeeper.adapters.files import read_toml
from stagekeeper.cli import options, render, tables
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


TEMPLATE = """\
# A stagekeeper policy: one section per target stage (beta, champion, archived), each
# optional. Set it with: stagekeeper policy set --file policy.toml [--timeframe 1H]

[beta]
require_reason = false              # --reason must be given
# require = ["sharpe >= 0.5"]       # thresholds on the version's metrics

[champion]
require_reason = true
require = [
  "sharpe >= 1.0",                  # a threshold; a missing metric fails
  "sharpe > champion.sharpe + 0.05" # beat the champion (the last one, if none reigns)
]
soak = "24h"                        # time in beta first: 30s, 90m, 24h, 2d
approvals = 1                       # from someone other than the requester
expires = "72h"                     # how long a request stays open
allow_force = true                  # may --force go past these gates
# approvals_identity = "verified"   # count only identities the store verified
# protected_by = "approver"         # PostgreSQL after db enforce: only this group

[rollback]
gates = false                       # rollback skips metric and soak gates
"""


@policy_app.command("init")
def init(
    store: options.Store = None,  # noqa: ARG001 - every command takes them; this one needs none
    actor: options.Actor = None,  # noqa: ARG001
    json_output: options.Json = False,
) -> None:
    """Print a commented policy to start from (nothing is read or changed)."""
    from stagekeeper.cli.session import command_session

    with command_session(json_output) as session:
        session.emit({"template": TEMPLATE}, lambda _console: session.say(TEMPLATE))


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
            lambda console: tables.show(
                console, render.policy_changes_table(changes), "No policy has been set."
            ),
        )


def _toml(document: dict[str, Any]) -> str:
    import tomli_w

    return tomli_w.dumps(document)

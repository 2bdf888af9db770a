"""``stagekeeper tokens``: the console's API tokens, made, listed and revoked."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from stagekeeper.cli import options, tables
from stagekeeper.cli.render import Data, short_time, timestamp
from stagekeeper.cli.session import command_session
from stagekeeper.cli.tables import filled

if TYPE_CHECKING:
    from collections.abc import Iterable

    from stagekeeper.cli.tables import Grid
    from stagekeeper.domain.tokens import ApiToken

tokens_app = options.command_group("tokens", "The console's API tokens: create, list, revoke.")


@tokens_app.command("create")
def create(
    user: Annotated[
        str,
        typer.Option(
            "--user", metavar="NAME", help="Who the token signs in as.", show_default=False
        ),
    ],
    role: Annotated[
        str,
        typer.Option(
            "--role",
            metavar="viewer|promoter|approver|admin",
            help="What it may do.",
            show_default=False,
        ),
    ],
    expires: Annotated[
        str | None,
        typer.Option(
            "--expires",
            metavar="DURATION",
            help="Valid for this long (30d, 12h); else until revoked.",
            show_default=False,
        ),
    ] = None,
    store: options.Store = None,
    actor: options.Actor = None,
    json_output: options.Json = False,
) -> None:
    """Make a token and print it, once: the store keeps only its digest."""
    with command_session(json_output) as session:
        registry = session.open(store, actor, writes=True)
        given, kept = registry.create_token(user, role, expires)
        session.emit(
            {"token": given, **token_data(kept)},
            lambda console: console.print(
                f"{given}\nToken {kept.id} for {kept.user} ({kept.role}); it is shown only now."
            ),
        )


@tokens_app.command("list")
def list_tokens(
    store: options.Store = None, actor: options.Actor = None, json_output: options.Json = False
) -> None:
    """Every token's record (never the token), revoked ones too."""
    with command_session(json_output) as session:
        found = session.open(store, actor, writes=False).tokens()
        session.emit(
            [token_data(t) for t in found],
            lambda console: tables.show(console, tokens_table(found), "No token has been made."),
        )


@tokens_app.command("revoke")
def revoke(
    token_id: Annotated[str, typer.Argument(metavar="ID", help="The token's id (tokens list).")],
    store: options.Store = None,
    actor: options.Actor = None,
    json_output: options.Json = False,
) -> None:
    """Revoke a token: it signs no one in from now on."""
    with command_session(json_output) as session:
        kept = session.open(store, actor, writes=True).revoke_token(token_id)
        session.emit(
            token_data(kept),
            lambda console: console.print(f"Token {kept.id} of {kept.user} is revoked."),
        )


def token_data(token: ApiToken) -> Data:
    return {
        "id": token.id,
        "user": token.user,
        "role": token.role,
        "created_at": timestamp(token.created_at),
        "revoked_at": None if token.revoked_at is None else timestamp(token.revoked_at),
        "expires_at": None if token.expires_at is None else timestamp(token.expires_at),
    }


def tokens_table(found: Iterable[ApiToken]) -> Grid:
    return filled(
        ("id", "user", "role", "created (UTC)", "revoked (UTC)"),
        [(t.id, t.user, t.role, short_time(t.created_at),
          short_time(t.revoked_at) if t.revoked_at else "")
         for t in found],
        text=("user",),
    )  # fmt: skip

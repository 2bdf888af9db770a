"""``stagekeeper serve``: the team console and its HTTP API, on 127.0.0.1 by default."""

from __future__ import annotations

from typing import Annotated

import typer

from stagekeeper.cli import options
from stagekeeper.cli.session import command_session
from stagekeeper.domain.errors import ValidationError

SERVER_HINT = "pip install 'stagekeeper[server]' (from a checkout: pip install -e '.[server]')"


def serve(
    host: Annotated[
        str, typer.Option("--host", metavar="ADDRESS", help="Address to listen on.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", metavar="PORT", help="Port to listen on.")] = 8470,
    public_read: Annotated[
        bool, options.flag("--public-read", "Let anyone read; writes still need a user.")
    ] = False,
    proxy_header: Annotated[
        str | None,
        typer.Option(
            "--trusted-proxy-header",
            metavar="HEADER",
            help="The header an authenticating proxy names the user in (X-Forwarded-User).",
            show_default=False,
        ),
    ] = None,
    trusted_proxy: Annotated[
        list[str] | None,
        typer.Option(
            "--trusted-proxy",
            metavar="ADDRESS",
            help="An address the proxy calls from; the header counts only from these.",
            show_default=False,
        ),
    ] = None,
    proxy_role: Annotated[
        str,
        typer.Option(
            "--proxy-role",
            metavar="viewer|promoter|approver|admin",
            help="The role of users the proxy names.",
        ),
    ] = "viewer",
    store: options.Store = None,
    actor: options.Actor = None,
    json_output: options.Json = False,
) -> None:
    """Serve the console and the HTTP API over the store (Ctrl-C stops)."""
    try:
        from stagekeeper.web.app import create_app
        from stagekeeper.web.auth import Settings
        from stagekeeper.web.serving import serve as served
    except ImportError as exc:
        raise ValidationError(
            f"the console needs its extra ({exc.name} is missing)", hint=SERVER_HINT
        ) from None
    from stagekeeper.domain.tokens import role

    if proxy_header and not trusted_proxy:
        raise ValidationError("--trusted-proxy-header needs --trusted-proxy ADDRESS")
    settings = Settings(
        public_read=public_read, proxy_header=proxy_header,
        trusted_proxies=frozenset(trusted_proxy or ()), proxy_role=role(proxy_role),
    )  # fmt: skip
    with command_session(json_output) as session:
        registry = session.open(store, actor, writes=False)
        served(create_app(registry, settings), host, port)

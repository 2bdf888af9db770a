"""``stagekeeper db``: the store's schema, and on PostgreSQL its logins and their rules."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from stagekeeper.cli import options, tables
from stagekeeper.cli.session import command_session
from stagekeeper.cli.tables import filled

if TYPE_CHECKING:
    from collections.abc import Iterable

    from stagekeeper.cli.tables import Grid

db_app = options.command_group("db", "Manage the store's schema, and its logins' groups.")
GROUPS = "viewer|promoter|approver|admin"
Login = Annotated[str, typer.Argument(metavar="LOGIN", help="A PostgreSQL login (role).")]
Group = Annotated[
    str,
    typer.Option(
        "--as", metavar=GROUPS, help="The group: what the login may do.", show_default=False
    ),
]


@db_app.command("upgrade")
def upgrade(
    store: options.Store = None,
    actor: options.Actor = None,
    json_output: options.Json = False,
) -> None:
    """Upgrade the store's schema to the version this stagekeeper expects."""
    with command_session(json_output) as session:
        registry = session.open(store, actor, writes=True, check_schema=False)
        revision = registry.upgrade_schema()
        message = (
            f"Schema is at revision {revision}."
            if revision
            else "This store has no schema to upgrade."
        )
        session.emit({"revision": revision}, lambda console: console.print(message))


@db_app.command("enforce")
def enforce(
    store: options.Store = None, actor: options.Actor = None, json_output: options.Json = False
) -> None:
    """Turn on the rules the database enforces: groups, append-only history, four eyes,
    protected stages (PostgreSQL; the schema's owner runs it). Changes no data."""
    with command_session(json_output) as session:
        session.open(store, actor, writes=False).access().enforce_roles()
        session.emit(
            {"enforced": True},
            lambda console: console.print(
                "The database now enforces the groups' rules; grant logins with "
                "`stagekeeper db grant LOGIN --as GROUP`."
            ),
        )


@db_app.command("grant")
def grant(
    login: Login,
    group: Group,
    store: options.Store = None,
    actor: options.Actor = None,
    json_output: options.Json = False,
) -> None:
    """Make a login a member of a group (viewer, promoter, approver or admin)."""
    _membership(login, group, True, store, actor, json_output)


@db_app.command("revoke")
def revoke(
    login: Login,
    group: Group,
    store: options.Store = None,
    actor: options.Actor = None,
    json_output: options.Json = False,
) -> None:
    """Take a login out of a group."""
    _membership(login, group, False, store, actor, json_output)


def _membership(
    login: str, group: str, member: bool, store: str | None, actor: str | None, json: bool
) -> None:
    with command_session(json) as session:
        access = session.open(store, actor, writes=False).access()
        (access.grant if member else access.revoke)(login, group)
        said = f"{login} is {'a' if member else 'no'} member of {group} now."
        session.emit(
            {"login": login, "group": group, "member": member},
            lambda console: console.print(said),
        )


@db_app.command("roles")
def roles(
    store: options.Store = None, actor: options.Actor = None, json_output: options.Json = False
) -> None:
    """Who holds which group, and whether the rules are on."""
    with command_session(json_output) as session:
        access = session.open(store, actor, writes=False).access()
        found, enforced = access.members(), access.roles_enforced()
        session.emit(
            {
                "enforced": enforced,
                "members": [{"login": who, "group": group} for who, group in found],
            },
            lambda console: tables.show(
                console, members_table(found), "No login is a member of any group."
            ),
        )


def members_table(members: Iterable[tuple[str, str]]) -> Grid:
    return filled(("login", "group"), [(login, group) for login, group in members])

"""Who may do what on PostgreSQL, enforced by the database itself.

Four group roles: ``stagekeeper_viewer`` (reads), ``stagekeeper_promoter`` (registers,
promotes, asks for approvals, records metrics, delivers events), ``stagekeeper_approver``
(also approves) and ``stagekeeper_admin`` (also sets policies), each a member of the one
before. People log in with roles of their own, made members with ``stagekeeper db grant``.
``stagekeeper db enforce``, run by the schema's owner, turns the rules on; until then a store
works as it always did, and turning them on changes no data:

- each group gets the privileges its work needs, and ``PUBLIC`` none;
- the history is append-only: no login but the schema owner may UPDATE or DELETE a row;
- an approval is refused when its login (``session_user``, which ``SET ROLE`` does not
  change) asked for the move, approved it already, or is not in the approver group;
- a policy's ``protected_by`` names the group that may move a version into a stage
  (``[champion] protected_by = "approver"``), for every move, rollbacks and forced ones too.

The rules are triggers, so a client that writes SQL by hand meets them as stagekeeper does.
Each refusal raises SQLSTATE ``SKF01``, which the store reports as ``ForbiddenError``.
Migration 0008 already fills each change's identity from ``session_user``. Imports
SQLAlchemy and the schema.
"""

from __future__ import annotations

import itertools
import re
from contextlib import AbstractContextManager
from typing import Protocol

from sqlalchemy import Connection, text

from stagekeeper.domain.errors import ValidationError
from stagekeeper_sql.schema import (
    changes,
    deliveries,
    meta,
    metrics,
    policies,
    requests,
    timeframes,
    tokens,
    versions,
)

GROUPS = ("viewer", "promoter", "approver", "admin")
FORBIDDEN_STATE = "SKF01"
ENFORCED = "enforced"
_LOGIN = re.compile(r"[A-Za-z_][A-Za-z0-9_.@-]{0,62}")
_TABLES = [t.name for t in (timeframes, versions, changes, metrics, policies, requests)]
_ALL = [*_TABLES, deliveries.name, meta.name, "stagekeeper_alembic_version"]
# The console's tokens: its server reads them to know who calls, and admins make them.
_ADMINS_ONLY = [tokens.name]
_PROMOTERS_INSERT = [
    t.name for t in (timeframes, versions, changes, metrics, requests, deliveries)
]  # policies: the admins'; the history's rows: stamped and ruled by the triggers


def group_role(group: str) -> str:
    if group not in GROUPS:
        raise ValidationError(f"unknown group {group!r}: expected one of {', '.join(GROUPS)}")
    return f"stagekeeper_{group}"


def _login(name: str) -> str:
    if not _LOGIN.fullmatch(name):
        raise ValidationError(
            f"invalid login {name[:70]!r}: expected a PostgreSQL role name (letters, digits, "
            "'_', '.', '@', '-'; at most 63)"
        )
    return '"' + name + '"'


def enforce(connection: Connection) -> None:
    """Create the groups, grant them what they need, and install the rules (idempotent)."""
    for statement in _groups() + _grants() + _rules():
        connection.execute(text(statement))
    connection.execute(meta.delete().where(meta.c.key == ENFORCED))
    connection.execute(meta.insert().values(key=ENFORCED, value="1"))


def enforced(connection: Connection) -> bool:
    found = connection.execute(meta.select().where(meta.c.key == ENFORCED)).first()
    return found is not None


def grant(connection: Connection, login: str, group: str) -> None:
    connection.execute(text(f"GRANT {group_role(group)} TO {_login(login)}"))


def revoke(connection: Connection, login: str, group: str) -> None:
    connection.execute(text(f"REVOKE {group_role(group)} FROM {_login(login)}"))


def members(connection: Connection) -> list[tuple[str, str]]:
    """Every login that is directly a member of a group, with the group, by login."""
    rows = connection.execute(
        text(
            "SELECT m.rolname, g.rolname FROM pg_auth_members a "
            "JOIN pg_roles g ON g.oid = a.roleid JOIN pg_roles m ON m.oid = a.member "
            "WHERE g.rolname LIKE 'stagekeeper\\_%' AND m.rolcanlogin ORDER BY 1, 2"
        )
    ).all()
    return [(str(login), str(group).removeprefix("stagekeeper_")) for login, group in rows]


def _groups() -> list[str]:
    made = [
        f"DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = "
        f"'{group_role(g)}') THEN CREATE ROLE {group_role(g)} NOLOGIN; END IF; END $$"
        for g in GROUPS
    ]
    chain = [f"GRANT {group_role(a)} TO {group_role(b)}" for a, b in itertools.pairwise(GROUPS)]
    return made + chain


def _grants() -> list[str]:
    viewer, promoter, admin = (group_role(g) for g in ("viewer", "promoter", "admin"))
    tables = ", ".join(_ALL)
    return [
        f"REVOKE ALL ON {tables} FROM PUBLIC",
        f"GRANT SELECT ON {tables} TO {viewer}",
        f"GRANT INSERT ON {', '.join(_PROMOTERS_INSERT)} TO {promoter}",
        # SELECT ... FOR UPDATE of the timeframe's row is the write lock: it needs UPDATE.
        f"GRANT UPDATE ON {timeframes.name}, {versions.name} TO {promoter}",
        f"GRANT DELETE ON {metrics.name}, {requests.name}, {deliveries.name} TO {promoter}",
        f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {promoter}",
        f"GRANT INSERT ON {policies.name} TO {admin}",
        f"REVOKE ALL ON {', '.join(_ADMINS_ONLY)} FROM PUBLIC",
        f"GRANT SELECT, INSERT, DELETE ON {', '.join(_ADMINS_ONLY)} TO {admin}",
    ]


def _rules() -> list[str]:
    return [
        _function("stagekeeper_append_only", _APPEND_ONLY),
        _trigger("stagekeeper_changes_append_only", "BEFORE UPDATE OR DELETE", changes.name,
                 "stagekeeper_append_only"),
        _function("stagekeeper_four_eyes", _FOUR_EYES),
        _trigger("stagekeeper_changes_four_eyes", "BEFORE INSERT", changes.name,
                 "stagekeeper_four_eyes"),
        _function("stagekeeper_protected_stages", _PROTECTED),
        _trigger("stagekeeper_versions_protected", "BEFORE INSERT OR UPDATE OF stage",
                 versions.name, "stagekeeper_protected_stages"),
    ]  # fmt: skip


def _function(name: str, body: str) -> str:
    # SECURITY DEFINER with a pinned search_path: the rule reads tables (the policy, the
    # request's row) that the acting login may not, and no login can swap them.
    return (
        f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql "
        f"SECURITY DEFINER SET search_path = pg_catalog, public AS $$ {body} $$"
    )


def _trigger(name: str, when: str, table: str, function: str) -> str:
    return (
        f"DO $$ BEGIN DROP TRIGGER IF EXISTS {name} ON {table}; "
        f"CREATE TRIGGER {name} {when} ON {table} FOR EACH ROW EXECUTE FUNCTION {function}(); "
        "END $$"
    )


def _refuse(message: str) -> str:
    return f"RAISE EXCEPTION USING ERRCODE = '{FORBIDDEN_STATE}', MESSAGE = {message};"


_APPEND_ONLY = f"""
BEGIN
  IF session_user <> (SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = TG_RELID) THEN
    {
    _refuse(
        "format('login %s may not %s history rows: the history is append-only', "
        "session_user, lower(TG_OP))"
    )
}
  END IF;
  RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END"""

_FOUR_EYES = f"""
DECLARE
  request text := substring(NEW.detail from '^request ([0-9a-f]+):');
  requester text;
BEGIN
  IF NEW.cause <> 'approval' THEN
    RETURN NEW;
  END IF;
  IF NOT pg_has_role(session_user, 'stagekeeper_approver', 'MEMBER') THEN
    {
    _refuse(
        "format('login %s is not in the approver group (stagekeeper_approver): "
        "it may not approve', session_user)"
    )
}
  END IF;
  SELECT identity_name INTO requester FROM stagekeeper_changes
    WHERE operation_id = request AND cause = 'request' LIMIT 1;
  IF requester IS NULL THEN
    {
    _refuse(
        "format('an approval must name a request that was recorded, not %s', "
        "coalesce(request, 'none'))"
    )
}
  END IF;
  IF requester = session_user THEN
    {
    _refuse(
        "format('login %s asked for this move (request %s): the approval must come "
        "from another login', session_user, request)"
    )
}
  END IF;
  IF EXISTS (SELECT 1 FROM stagekeeper_changes WHERE cause = 'approval'
             AND identity_name = session_user AND detail LIKE 'request ' || request || ':%') THEN
    {_refuse("format('login %s has approved request %s already', session_user, request)")}
  END IF;
  RETURN NEW;
END"""

_PROTECTED = f"""
DECLARE
  own jsonb;
  fallback jsonb;
  protected text;
BEGIN
  IF TG_OP = 'UPDATE' AND NEW.stage = OLD.stage THEN
    RETURN NEW;
  END IF;
  SELECT document::jsonb INTO own FROM stagekeeper_policies
    WHERE timeframe = NEW.timeframe ORDER BY id DESC LIMIT 1;
  SELECT document::jsonb INTO fallback FROM stagekeeper_policies
    WHERE timeframe IS NULL ORDER BY id DESC LIMIT 1;
  protected := coalesce(own -> NEW.stage, fallback -> NEW.stage) ->> 'protected_by';
  IF protected IS NOT NULL
     AND NOT pg_has_role(session_user, 'stagekeeper_' || protected, 'MEMBER') THEN
    {
    _refuse(
        "format('login %s may not move a version into %s: the policy protects it for "
        "the %s group (stagekeeper_%s)', session_user, NEW.stage, protected, protected)"
    )
}
  END IF;
  RETURN NEW;
END"""


class _Writing(Protocol):
    def _write(self) -> AbstractContextManager[Connection]: ...
    def _read(self, within: Connection | None = None) -> AbstractContextManager[Connection]: ...


class ManagedAccess:
    """The SQL store's access role (``ports.AccessManaged``): PostgreSQL only."""

    def enforce_roles(self: _Writing) -> None:
        with _postgresql(self._write()) as connection:
            enforce(connection)

    def roles_enforced(self: _Writing) -> bool:
        with self._read() as connection:
            return connection.dialect.name == "postgresql" and enforced(connection)

    def grant(self: _Writing, login: str, group: str) -> None:
        group_role(group)  # a bad group is bad input on any store
        with _postgresql(self._write()) as connection:
            grant(connection, login, group)

    def revoke(self: _Writing, login: str, group: str) -> None:
        group_role(group)
        with _postgresql(self._write()) as connection:
            revoke(connection, login, group)

    def members(self: _Writing) -> list[tuple[str, str]]:
        with _postgresql(self._read()) as connection:
            return members(connection)


class _postgresql:
    """The store's connection, refused unless it is PostgreSQL's: SQLite has no logins."""

    def __init__(self, opened: AbstractContextManager[Connection]) -> None:
        self.opened = opened

    def __enter__(self) -> Connection:
        connection = self.opened.__enter__()
        if connection.dialect.name != "postgresql":
            self.opened.__exit__(None, None, None)
            raise ValidationError(
                "SQLite has no logins: roles and their rules are for PostgreSQL stores"
            )
        return connection

    def __exit__(self, *exc: object) -> None:
        self.opened.__exit__(*exc)  # type: ignore[arg-type]

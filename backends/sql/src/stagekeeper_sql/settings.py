"""What the SQL store keeps besides versions and their history: the policies (append-only,
the newest per scope in force), each event sink's delivery cursor, and the console's API
tokens (digests). Functions over a
connection the store opened. Imports the domain and the schema.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, delete, select

from stagekeeper.domain.policy import PolicyChange
from stagekeeper.domain.tokens import ApiToken
from stagekeeper_sql.schema import deliveries, policies, tokens
from stagekeeper_sql.statements import POLICIES, utc


def policies_in_force(connection: Connection) -> dict[str | None, Mapping[str, Any]]:
    rows = connection.execute(POLICIES).all()
    return {timeframe: json.loads(document) for timeframe, document in rows}


def append_policy(connection: Connection, change: PolicyChange) -> None:
    connection.execute(
        policies.insert().values(
            operation_id=change.operation_id,
            timeframe=change.timeframe,
            document=json.dumps(change.document, sort_keys=True),
            actor=change.actor,
            at=change.at,
            reason=change.reason,
        )
    )


def policy_changes(connection: Connection) -> list[PolicyChange]:
    rows = connection.execute(select(policies).order_by(policies.c.id)).all()
    return [
        PolicyChange(
            row.operation_id, row.timeframe, json.loads(row.document), row.actor, utc(row.at),
            row.reason,
        )
        for row in rows
    ]  # fmt: skip


def cursor_of(connection: Connection, sink: str) -> str | None:
    query = select(deliveries.c.cursor).where(deliveries.c.sink == sink)
    found = connection.execute(query).scalar()
    return None if found is None else str(found)


def move_cursor(connection: Connection, sink: str, cursor: str) -> None:
    connection.execute(delete(deliveries).where(deliveries.c.sink == sink))
    connection.execute(
        deliveries.insert().values(sink=sink, cursor=cursor, updated_at=datetime.now(UTC))
    )


def all_tokens(connection: Connection) -> list[ApiToken]:
    rows = connection.execute(select(tokens).order_by(tokens.c.created_at, tokens.c.id)).all()
    return [
        ApiToken(
            row.id, row.user_name, row.role, row.digest, utc(row.created_at),
            None if row.revoked_at is None else utc(row.revoked_at),
            None if row.expires_at is None else utc(row.expires_at),
        )
        for row in rows
    ]  # fmt: skip


def keep_token(connection: Connection, token: ApiToken) -> None:
    connection.execute(delete(tokens).where(tokens.c.id == token.id))
    connection.execute(
        tokens.insert().values(
            id=token.id, user_name=token.user, role=token.role, digest=token.digest,
            created_at=token.created_at, revoked_at=token.revoked_at,
            expires_at=token.expires_at,
        )
    )  # fmt: skip

"""The console's API tokens: made (the token shown once), listed, revoked, and a token
given checked against the store. Imports the domain and the ports.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from stagekeeper.domain import tokens, validation
from stagekeeper.domain.durations import duration
from stagekeeper.domain.errors import NotFoundError
from stagekeeper.domain.tokens import ApiToken
from stagekeeper.service.ports import TokenStore
from stagekeeper.service.writing import WritePath


def create(
    path: WritePath, user: str, role: str, expires: str | None = None
) -> tuple[str, ApiToken]:
    """A new token for ``user`` with ``role``, valid for ``expires`` (``30d``, ``12h``;
    else until revoked): the token, to hand over once, and its record."""
    now = path.clock()
    until = None if expires is None else now + duration(expires, "expiry", zero_allowed=False)
    given, kept = tokens.new(validation.actor(user), role, now, until)
    path.store.keep_token(kept)
    return given, kept


def revoke(path: WritePath, token_id: str) -> ApiToken:
    wanted = validation.text(token_id, "token id", 32).strip()
    found = next((t for t in path.store.tokens() if t.id == wanted), None)
    if found is None:
        raise NotFoundError(f"no token {wanted}", hint="stagekeeper tokens list shows them")
    if found.revoked_at is None:
        found = dataclasses.replace(found, revoked_at=path.clock())
        path.store.keep_token(found)
    return found


def authenticate(store: TokenStore, given: str) -> ApiToken | None:
    """The active token ``given`` is (not revoked, not expired), or ``None``."""
    return tokens.matching(given, store.tokens(), datetime.now(UTC))

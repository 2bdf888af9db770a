"""The console's API tokens: made (the token shown once), listed, revoked, and a token
given checked against the store. Imports the domain and the ports.
"""

from __future__ import annotations

import dataclasses

from stagekeeper.domain import tokens, validation
from stagekeeper.domain.errors import NotFoundError
from stagekeeper.domain.tokens import ApiToken
from stagekeeper.service.ports import TokenStore
from stagekeeper.service.writing import WritePath


def create(path: WritePath, user: str, role: str) -> tuple[str, ApiToken]:
    """A new token for ``user`` with ``role``: the token, to hand over once, and its record."""
    given, kept = tokens.new(validation.actor(user), role, path.clock())
    path.store.keep_token(kept)
    return given, kept


def revoke(path: WritePath, token_id: str) -> ApiToken:
    wanted = validation.text(token_id, "token id", 32).strip()
    found = next((t for t in path.store.tokens() if t.id == wanted), None)
    if found is None:
        raise NotFoundError(f"no token {wanted}", hint="stagekeeper tokens list shows them")
    if found.active:
        found = dataclasses.replace(found, revoked_at=path.clock())
        path.store.keep_token(found)
    return found


def authenticate(store: TokenStore, given: str) -> ApiToken | None:
    """The active token ``given`` is, or ``None``."""
    return tokens.matching(given, store.tokens())

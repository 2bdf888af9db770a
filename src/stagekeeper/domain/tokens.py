"""API tokens for the console and its HTTP API: who a token is, the role it carries, and
the check of a token given, in constant time. Only a token's digest is kept; the token
itself is shown once, when it is made. Imports only the standard library and the domain.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass
from datetime import datetime

from stagekeeper.domain.errors import ValidationError

# The console's roles, each allowed what the ones before it are (and PostgreSQL's groups).
ROLES = ("viewer", "promoter", "approver", "admin")
PREFIX = "skt"


@dataclass(frozen=True)
class ApiToken:
    id: str
    user: str
    role: str
    digest: str  # sha256 of the secret part, hex
    created_at: datetime
    revoked_at: datetime | None = None
    expires_at: datetime | None = None  # None: until revoked

    def active(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)


def role(value: object) -> str:
    if value not in ROLES:
        raise ValidationError(f"unknown role {value!r}: expected one of {', '.join(ROLES)}")
    return str(value)


def allows(held: str, needed: str) -> bool:
    """Whether a holder of role ``held`` may do what ``needed`` may."""
    return ROLES.index(held) >= ROLES.index(needed)


def new(
    user: str, role_name: str, at: datetime, expires_at: datetime | None = None
) -> tuple[str, ApiToken]:
    """A new token: the text to hand over once, and what the store keeps of it."""
    token_id, secret = os.urandom(6).hex(), os.urandom(24).hex()
    kept = ApiToken(token_id, user, role(role_name), _digest(secret), at, None, expires_at)
    return f"{PREFIX}_{token_id}_{secret}", kept


def matching(given: str, kept: list[ApiToken], now: datetime) -> ApiToken | None:
    """The active token ``given`` is at ``now``, or ``None``; the secret compared in
    constant time."""
    prefix, _, rest = given.strip().partition("_")
    token_id, _, secret = rest.partition("_")
    if prefix != PREFIX or not token_id or not secret:
        return None
    found = next((t for t in kept if t.id == token_id), None)
    if found is None or not found.active(now):
        return None
    return found if hmac.compare_digest(found.digest, _digest(secret)) else None


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()

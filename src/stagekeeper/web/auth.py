"""Who is calling the console: an API token (``Authorization: Bearer``, or the session
cookie a browser got by signing in with one), or a user an authenticating reverse proxy
named in a header it alone may set. Also the CSRF check of form posts and the rate limit
of failed sign-ins. Imports the service and Starlette.
"""

from __future__ import annotations

import hmac
import os
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field

from starlette.requests import Request

from stagekeeper.domain import tokens
from stagekeeper.service.ports import TokenStore
from stagekeeper.service.tokens import authenticate

SESSION_COOKIE = "stagekeeper_session"
CSRF_COOKIE = "stagekeeper_csrf"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
ANONYMOUS = "anonymous"


@dataclass(frozen=True)
class Principal:
    """Who acts: a user the console authenticated (``verified``), with a role."""

    user: str
    role: str
    verified: bool = True
    by_cookie: bool = False

    def may(self, needed: str) -> bool:
        return self.verified and tokens.allows(self.role, needed)


@dataclass(frozen=True)
class Settings:
    public_read: bool = False
    proxy_header: str | None = None  # e.g. X-Forwarded-User
    trusted_proxies: frozenset[str] = frozenset()
    proxy_role: str = "viewer"


def principal(request: Request, store: TokenStore, settings: Settings) -> Principal | None:
    """The caller, or ``None`` when nobody is signed in (``public_read`` reads anyway)."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        found = authenticate(store, header[7:])
        return None if found is None else Principal(found.user, found.role)
    client = request.client.host if request.client else ""
    proxied = request.headers.get(settings.proxy_header) if settings.proxy_header else None
    if proxied and client in settings.trusted_proxies:
        return Principal(proxied.strip(), settings.proxy_role)
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        found = authenticate(store, cookie)
        if found is not None:
            return Principal(found.user, found.role, by_cookie=True)
    return None


def new_csrf() -> str:
    return os.urandom(16).hex()


def csrf_ok(request: Request, given: str | None) -> bool:
    """Double submit: the form's (or header's) value must equal the cookie's, which a page
    of another origin can neither read nor set (SameSite=Strict)."""
    cookie = request.cookies.get(CSRF_COOKIE, "")
    return bool(cookie) and given is not None and hmac.compare_digest(cookie, given)


@dataclass
class SignInLimit:
    """Failed sign-ins per client address: at most ``attempts`` in ``window`` seconds."""

    attempts: int = 5
    window: float = 60.0
    _failures: dict[str, deque[float]] = field(default_factory=lambda: defaultdict(deque))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def blocked(self, client: str) -> bool:
        with self._lock:
            recent = self._recent(client)
            return len(recent) >= self.attempts

    def failed(self, client: str) -> None:
        with self._lock:
            self._recent(client).append(time.monotonic())

    def _recent(self, client: str) -> deque[float]:
        recent = self._failures[client]
        while recent and recent[0] < time.monotonic() - self.window:
            recent.popleft()
        return recent

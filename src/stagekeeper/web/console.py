"""What every route of the console shares: the one store, a registry per caller (acting as
the user the console authenticated), the caller's rights, and errors as HTTP answers in the
CLI's envelope. Imports the service, the CLI's renderers and Starlette.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from stagekeeper.domain.errors import ForbiddenError, StagekeeperError
from stagekeeper.domain.identity import Identity
from stagekeeper.domain.policy import GROUPS
from stagekeeper.domain.stages import Stage
from stagekeeper.service.ports import ModelStore, StoreOptions
from stagekeeper.service.registry import Registry
from stagekeeper.web.auth import ANONYMOUS, Principal, Settings, SignInLimit, principal

# The CLI's error codes as HTTP statuses (its exit codes are mapped in cli/funnel.py).
STATUS = {
    "invalid_input": 400, "usage": 400, "unauthenticated": 401, "forbidden": 403,
    "not_found": 404, "conflict": 409, "concurrent_update": 409, "lock_timeout": 409,
    "lock_lost": 409, "transition_not_allowed": 409, "gate_failed": 409,
    "store_unavailable": 503, "error": 500, "internal": 500,
}  # fmt: skip


class Unauthenticated(StagekeeperError):
    code = "unauthenticated"  # type: ignore[assignment]


@dataclass
class Console:
    store: ModelStore
    options: StoreOptions
    settings: Settings
    limit: SignInLimit
    # Set as the server stops (``serving.Server``): the live pages' streams end then.
    stopping: threading.Event = field(default_factory=threading.Event)

    async def streaming(self, request: Request) -> bool:
        """Whether a live page's stream goes on: its reader is there, the server is not
        stopping."""
        return not self.stopping.is_set() and not await request.is_disconnected()

    def caller(self, request: Request, *, reading: bool) -> Principal:
        """The authenticated caller; anonymous for a read of a ``--public-read`` console."""
        found = principal(request, self.store, self.settings)
        if found is not None:
            return found
        if reading and self.settings.public_read:
            return Principal(ANONYMOUS, "viewer", verified=False)
        raise Unauthenticated(
            "sign in first: an API token (Authorization: Bearer ...) or the console's page",
            hint="stagekeeper tokens create --user NAME --role ROLE makes a token",
        )

    def registry(self, who: Principal) -> Registry:
        """The service, acting as ``who``: the identity recorded on every change."""
        identity = Identity(who.user, "console") if who.verified else None
        return Registry(self.store, options=self.options, actor=who.user, identity=identity)

    def require(self, who: Principal, needed: str, what: str) -> None:
        if not who.may(needed):
            raise ForbiddenError(
                f"{who.user} ({who.role}) may not {what}: it takes the {needed} role"
            )

    def require_stage(self, registry: Registry, who: Principal, timeframe: str, stage: str) -> None:
        """A stage the policy protects for a group is moved into by that group's users."""
        protected = registry.policy(timeframe).gates(Stage.parse(stage)).protected_by
        if protected is not None and protected in GROUPS and not who.may(protected):
            raise ForbiddenError(
                f"{who.user} ({who.role}) may not move a version into {Stage.parse(stage).value}: "
                f"the policy protects it for the {protected} group"
            )


def failure(exc: StagekeeperError) -> JSONResponse:
    error: dict[str, Any] = {"code": exc.code, "message": exc.message}
    if exc.hint:
        error["hint"] = exc.hint
    return JSONResponse({"error": error}, status_code=STATUS.get(exc.code, 500))

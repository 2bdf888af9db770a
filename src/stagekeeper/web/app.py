"""The console's ASGI application: the API, the pages, the static files, and the headers
every answer carries (a Content-Security-Policy that allows no inline script and no other
origin). The server keeps nothing of its own: every answer is read from the store, so
several servers over one store answer alike. Imports the service and Starlette.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from stagekeeper.service.registry import Registry
from stagekeeper.web import api, pages, views
from stagekeeper.web.auth import Settings, SignInLimit
from stagekeeper.web.console import Console

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


async def _secured(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    answer = await call_next(request)
    for name, value in SECURITY_HEADERS.items():
        answer.headers.setdefault(name, value)
    return answer


async def _not_here(request: Request, exc: Exception) -> Response:
    """An unknown path or method: in the envelope under /api, plain text elsewhere."""
    status = getattr(exc, "status_code", 404)
    message = "no such route" if status == 404 else "this route does not take that method"
    if request.url.path.startswith("/api/"):
        code = "not_found" if status == 404 else "usage"
        return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)
    return PlainTextResponse(message, status_code=status)


def create_app(registry: Registry, settings: Settings | None = None) -> Starlette:
    """The console over ``registry``'s store; each caller acts as themselves."""
    app = Starlette(
        exception_handlers={404: _not_here, 405: _not_here},
        routes=[
            *api.ROUTES,
            *pages.ROUTES,
            Mount("/static", app=StaticFiles(directory=str(views.STATIC)), name="static"),
        ],
        middleware=[Middleware(BaseHTTPMiddleware, dispatch=_secured)],
    )
    app.state.console = Console(
        registry.store, registry.options, settings or Settings(), SignInLimit()
    )
    return app

"""The console's pages, rendered on the server: the overview, a timeframe, a version's
review, the requests, the audit trail, the policy; forms that act as the signed-in user;
sign-in with a token. User text is escaped by Jinja2, and bidirectional controls are shown,
not obeyed. Imports the service, the CLI's renderers and Starlette.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import anyio
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from stagekeeper.cli import render
from stagekeeper.domain.errors import StagekeeperError
from stagekeeper.domain.stages import Stage
from stagekeeper.service.registry import Registry
from stagekeeper.web import views
from stagekeeper.web.auth import (
    CSRF_COOKIE,
    CSRF_FIELD,
    SESSION_COOKIE,
    Principal,
    csrf_ok,
    new_csrf,
)
from stagekeeper.web.console import Console, Unauthenticated

PAGE_SIZE = 50
templates = Jinja2Templates(directory=str(views.TEMPLATES))
templates.env.filters.update(visible=views.visible, utc=views.utc, number=render.number)
templates.env.autoescape = True


def _console(request: Request) -> Console:
    found: Console = request.app.state.console
    return found


def page(template: str, gather: Callable[[Request, Registry], dict[str, Any]]) -> Any:
    """A page: the caller (else the sign-in page), what ``gather`` reads, the template."""

    async def endpoint(request: Request) -> Response:
        signed = _reader(request)
        if isinstance(signed, Response):
            return signed
        who, registry = signed
        try:
            found = await anyio.to_thread.run_sync(lambda: gather(request, registry))
        except StagekeeperError as exc:
            found, template_used = {"error": exc.message}, "error.html"
        else:
            template_used = template
        return _rendered(request, template_used, {**found, "who": who})

    return endpoint


def _rendered(request: Request, template: str, context: dict[str, Any]) -> Response:
    csrf = request.cookies.get(CSRF_COOKIE) or new_csrf()
    context = {
        **context, "csrf": csrf, "notice": request.query_params.get("notice"),
        "failed": request.query_params.get("error"),
    }  # fmt: skip
    answer = templates.TemplateResponse(request, template, context)
    if CSRF_COOKIE not in request.cookies:
        answer.set_cookie(CSRF_COOKIE, csrf, httponly=True, samesite="strict",
                          secure=request.url.scheme == "https")  # fmt: skip
    return answer


def overview(_request: Request, registry: Registry) -> dict[str, Any]:
    return {"rows": views.overview_rows(registry), "mark": views.latest(registry)}


def timeframe(request: Request, registry: Registry) -> dict[str, Any]:
    tf, query = request.path_params["tf"], request.query_params
    board = {stage: registry.list(tf, stage) for stage in Stage}
    if not any(board.values()):
        raise StagekeeperError(f"no timeframe {tf} in this store")
    changes = views.filtered(registry.history(tf), query)
    number = max(1, int(query.get("page", "1")) if query.get("page", "1").isdigit() else 1)
    shown = changes[::-1][(number - 1) * PAGE_SIZE : number * PAGE_SIZE]
    return {
        "tf": tf, "board": board, "changes": shown, "page": number,
        "pages": max(1, -(-len(changes) // PAGE_SIZE)), "query": dict(query),
        "chart": views.timeline_svg(registry.timeline(tf), datetime.now(UTC)),
    }  # fmt: skip


def version(request: Request, registry: Registry) -> dict[str, Any]:
    seen = registry.review(request.path_params["tf"], request.path_params["n"])
    return {
        "version": seen.version, "champion": seen.champion, "moves": seen.moves,
        "metrics": [(m.name, m.value, m.champion, m.difference) for m in seen.metrics],
        "history": seen.history, "requests": seen.requests,
    }  # fmt: skip


def requests_page(_request: Request, registry: Registry) -> dict[str, Any]:
    every = registry.requests(pending_only=False)
    return {"pending": [r for r in every if r.state.value == "pending"],
            "closed": [r for r in every if r.state.value != "pending"]}  # fmt: skip


def audit(request: Request, registry: Registry) -> dict[str, Any]:
    """The whole history, newest first, 50 to a page: a page reads no more than it shows
    (and the pages before it); a filter reads everything."""
    query = request.query_params
    number = int(query["page"]) if query.get("page", "").isdigit() and query["page"] != "0" else 1
    filters = {key: query[key] for key in ("version", "actor", "cause", "date") if query.get(key)}
    changes = (
        views.filtered(registry.history(), filters)
        if filters
        else registry.history(limit=number * PAGE_SIZE + 1)
    )[::-1]
    shown = changes[(number - 1) * PAGE_SIZE : number * PAGE_SIZE]
    more = len(changes) > number * PAGE_SIZE
    return {"changes": shown, "page": number, "more": more, "query": filters}


def policy_page(_request: Request, registry: Registry) -> dict[str, Any]:
    timeframes = [s.timeframe for s in registry.status()]
    return {
        "default": registry.policy().document,
        "own": {tf: registry.policy(tf).document for tf in timeframes},
        "history": registry.policy_history()[::-1],
    }


def _reader(request: Request) -> tuple[Principal, Registry] | Response:
    """Who reads, and the service as them; else the way to the sign-in page."""
    console = _console(request)
    try:
        who = console.caller(request, reading=True)
    except Unauthenticated:
        return RedirectResponse("/sign-in", status_code=303)
    return who, console.registry(who)


async def audit_export(request: Request) -> Response:
    signed = _reader(request)
    if isinstance(signed, Response):
        return signed
    registry = signed[1]
    changes = await anyio.to_thread.run_sync(registry.history)
    rows = [render.change_data(c) for c in changes]
    if request.path_params["format"] == "json":
        return Response(json.dumps({"data": rows}, indent=2), media_type="application/json")
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=[*rows[0]] if rows else ["at"])
    writer.writeheader()
    writer.writerows({**r, "identity": json.dumps(r["identity"])} for r in rows)
    return PlainTextResponse(out.getvalue(), media_type="text/csv")


async def act(request: Request) -> Response:
    """A form's action, as the signed-in user, behind its CSRF token; back to where it came
    from, with what happened said in words."""
    console = _console(request)
    form = await request.form()
    back = str(form.get("back") or "/")
    back = back if back.startswith("/") and not back.startswith("//") else "/"
    if not csrf_ok(request, str(form.get(CSRF_FIELD) or "")):
        return _back(back, error="the form is out of date or from another site: try again")
    try:
        who = console.caller(request, reading=False)
        said = await anyio.to_thread.run_sync(
            lambda: views.perform(console, who, request.path_params["action"], form)
        )
    except StagekeeperError as exc:
        return _back(back, error=exc.message)
    return _back(back, notice=said)


def _back(to: str, **said: str) -> Response:
    glue = "&" if "?" in to else "?"
    return RedirectResponse(f"{to}{glue}{urlencode(said)}", status_code=303)


async def sign_in(request: Request) -> Response:
    console = _console(request)
    if request.method == "GET":
        return _rendered(request, "signin.html", {"who": None})
    client = request.client.host if request.client else "?"
    if console.limit.blocked(client):
        return _rendered(request, "signin.html", {"who": None, "error": (
            "too many failed sign-ins from here: wait a minute")})  # fmt: skip
    form = await request.form()
    if not csrf_ok(request, str(form.get(CSRF_FIELD) or "")):
        return _rendered(request, "signin.html", {"who": None, "error": "try again"})
    given = str(form.get("token") or "")
    from stagekeeper.service.tokens import authenticate

    found = await anyio.to_thread.run_sync(lambda: authenticate(console.store, given))
    if found is None:
        console.limit.failed(client)
        return _rendered(request, "signin.html", {"who": None, "error": "unknown token"})
    answer = RedirectResponse("/", status_code=303)
    answer.set_cookie(SESSION_COOKIE, given, httponly=True, samesite="strict",
                      secure=request.url.scheme == "https")  # fmt: skip
    return answer


async def sign_out(_request: Request) -> Response:
    answer = RedirectResponse("/sign-in", status_code=303)
    answer.delete_cookie(SESSION_COOKIE)
    return answer


async def fragment(request: Request) -> Response:
    """The overview's table alone, for the live page to swap in."""
    console = _console(request)
    try:
        who: Principal = console.caller(request, reading=True)
    except Unauthenticated:
        return HTMLResponse("", status_code=401)
    registry = console.registry(who)
    found = await anyio.to_thread.run_sync(lambda: overview(request, registry))
    return templates.TemplateResponse(request, "overview_table.html", {**found, "who": who})


async def changes_stream(request: Request) -> Response:
    """Server-Sent Events for a live page: an event each time an operation commits after
    the mark the page was drawn at, anywhere (the page then reloads its table)."""
    console = _console(request)
    try:
        who = console.caller(request, reading=True)
    except Unauthenticated:
        return PlainTextResponse("sign in first", status_code=401)
    store = console.registry(who).store
    mark = request.query_params.get("after", "")

    async def sent() -> Any:
        from stagekeeper.service.events import latest, wait_for_changes

        seen = mark
        while await console.streaming(request):
            newest = await anyio.to_thread.run_sync(latest, store)
            if newest != seen:
                seen = newest
                yield f"event: change\ndata: {newest}\n\n"
            else:
                yield ": waiting\n\n"  # and a disconnected page is noticed here
                await anyio.to_thread.run_sync(wait_for_changes, store, 1.0)

    return StreamingResponse(sent(), media_type="text/event-stream")


ROUTES = [
    Route("/", page("overview.html", overview)),
    Route("/fragments/overview/changes", changes_stream),
    Route("/fragments/overview", fragment),
    Route("/timeframes/{tf}", page("timeframe.html", timeframe)),
    Route("/timeframes/{tf}/versions/{n}", page("version.html", version)),
    Route("/requests", page("requests.html", requests_page)),
    Route("/audit", page("audit.html", audit)),
    Route("/audit.{format:str}", audit_export),
    Route("/policy", page("policy.html", policy_page)),
    Route("/actions/{action}", act, methods=["POST"]),
    Route("/sign-in", sign_in, methods=["GET", "POST"]),
    Route("/sign-out", sign_out, methods=["POST"]),
]

"""``/api/v1``: what the CLI does, over HTTP, in the CLI's JSON envelope and error codes.
Each route parses, calls the facade as the authenticated caller, and renders with the CLI's
own data shapes. Imports the service, the CLI's renderers and Starlette.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from stagekeeper.cli import render
from stagekeeper.domain.errors import StagekeeperError, ValidationError
from stagekeeper.domain.events import document
from stagekeeper.web.auth import CSRF_HEADER, csrf_ok
from stagekeeper.web.console import Console, failure
from stagekeeper.web.openapi import openapi

Handler = Callable[[Request, Console], Awaitable[Any]]
HISTORY_LIMIT = 1000


def _console(request: Request) -> Console:
    found: Console = request.app.state.console
    return found


def route(path: str, method: str, handler: Handler) -> Route:
    """A route whose stagekeeper errors are answered in the envelope; the work of the
    service (blocking I/O on the store) runs in a worker thread."""

    async def endpoint(request: Request) -> Response:
        try:
            answer = await handler(request, _console(request))
        except StagekeeperError as exc:
            return failure(exc)
        if isinstance(answer, Response):
            return answer
        return JSONResponse({"data": answer}, status_code=201 if method == "POST" else 200)

    return Route(path, endpoint, methods=[method])


async def _body(request: Request) -> dict[str, Any]:
    try:
        found = json.loads(await request.body() or b"{}")
    except ValueError:
        raise ValidationError("the request body is not JSON") from None
    if not isinstance(found, dict):
        raise ValidationError("the request body must be a JSON object")
    return found


def _writer(request: Request, console: Console, needed: str, what: str) -> Any:
    who = console.caller(request, reading=False)
    if who.by_cookie and not csrf_ok(request, request.headers.get(CSRF_HEADER)):
        raise ValidationError("a write from the browser needs its page's CSRF token")
    console.require(who, needed, what)
    return who, console.registry(who)


def _reader(request: Request, console: Console) -> Any:
    return console.registry(console.caller(request, reading=True))


async def status(request: Request, console: Console) -> Any:
    found = await anyio.to_thread.run_sync(_reader(request, console).status)
    return [render.status_data(s) for s in found]


async def versions(request: Request, console: Console) -> Any:
    registry, tf = _reader(request, console), request.path_params["tf"]
    stage = request.query_params.get("stage")
    found = await anyio.to_thread.run_sync(lambda: registry.list(tf, stage))
    return [render.version_data(v) for v in found]


async def version(request: Request, console: Console) -> Any:
    registry, params = _reader(request, console), request.path_params
    found = await anyio.to_thread.run_sync(lambda: registry.get(params["tf"], params["n"]))
    metrics = await anyio.to_thread.run_sync(lambda: registry.metrics(params["tf"], params["n"]))
    return {**render.version_data(found), "metrics": dict(sorted(metrics.items()))}


async def check(request: Request, console: Console) -> Any:
    registry, params = _reader(request, console), request.path_params
    stage = request.query_params.get("stage", "")
    found = await anyio.to_thread.run_sync(lambda: registry.check(params["tf"], params["n"], stage))
    return render.gates_data(found)


async def promote(request: Request, console: Console) -> Any:
    who, registry = _writer(request, console, "promoter", "promote versions")
    body, params = await _body(request), request.path_params
    stage = str(body.get("stage", ""))

    def run() -> Any:
        console.require_stage(registry, who, params["tf"], stage)
        changes = registry.promote(
            params["tf"], params["n"], stage, reason=body.get("reason"),
            force=body.get("force") is True,
        )  # fmt: skip
        waits = not changes or changes[-1].cause.value == "request"
        pending = registry.pending_request(params["tf"], params["n"], stage) if waits else None
        return {
            "status": "pending" if pending else "done",
            "changes": [render.change_data(c) for c in changes],
            "request": None if pending is None else render.request_data(pending),
        }

    return await anyio.to_thread.run_sync(run)


async def rollback(request: Request, console: Console) -> Any:
    who, registry = _writer(request, console, "promoter", "roll back")
    body, tf = await _body(request), request.path_params["tf"]

    def run() -> Any:
        console.require_stage(registry, who, tf, "champion")
        changes = registry.rollback(tf, body.get("to_version"), reason=body.get("reason"))
        return {"changes": [render.change_data(c) for c in changes]}

    return await anyio.to_thread.run_sync(run)


async def requests(request: Request, console: Console) -> Any:
    registry = _reader(request, console)
    every = request.query_params.get("all") in ("1", "true")
    tf = request.query_params.get("timeframe")
    found = await anyio.to_thread.run_sync(lambda: registry.requests(tf, pending_only=not every))
    return [render.request_data(r) for r in found]


async def approve(request: Request, console: Console) -> Any:
    return await _decide(request, console, "approve")


async def reject(request: Request, console: Console) -> Any:
    return await _decide(request, console, "reject")


async def _decide(request: Request, console: Console, verdict: str) -> Any:
    _, registry = _writer(request, console, "approver", verdict)
    body, rid = await _body(request), request.path_params["id"]
    act = registry.approve if verdict == "approve" else registry.reject
    changes = await anyio.to_thread.run_sync(lambda: act(rid, reason=body.get("reason")))
    return {"changes": [render.change_data(c) for c in changes]}


async def metrics(request: Request, console: Console) -> Any:
    _, registry = _writer(request, console, "promoter", "record metrics")
    body, params = await _body(request), request.path_params
    values = body.get("metrics")
    if not isinstance(values, dict):
        raise ValidationError('expected {"metrics": {"name": value, ...}}')
    changes = await anyio.to_thread.run_sync(
        lambda: registry.set_metrics(params["tf"], params["n"], values, reason=body.get("reason"))
    )
    return {"changes": [render.change_data(c) for c in changes]}


async def policy(request: Request, console: Console) -> Any:
    registry = _reader(request, console)
    tf = request.query_params.get("timeframe")
    found = await anyio.to_thread.run_sync(lambda: registry.policy(tf))
    return {"timeframe": tf, "policy": found.document}


async def set_policy(request: Request, console: Console) -> Any:
    _, registry = _writer(request, console, "admin", "set the policy")
    body = await _body(request)
    document, tf = body.get("policy"), body.get("timeframe")
    change = await anyio.to_thread.run_sync(
        lambda: registry.set_policy(document or {}, timeframe=tf, reason=body.get("reason"))
    )
    return {"operation_id": change.operation_id, "timeframe": change.timeframe}


async def history(request: Request, console: Console) -> Any:
    registry, query = _reader(request, console), request.query_params
    limit = query.get("limit", str(HISTORY_LIMIT))  # the newest 1,000 unless told
    found = await anyio.to_thread.run_sync(
        lambda: registry.history(query.get("timeframe"), query.get("version"), limit)
    )
    return [render.change_data(c) for c in found]


async def events(request: Request, console: Console) -> Any:
    registry, query = _reader(request, console), request.query_params
    since = query.get("since")
    found = await anyio.to_thread.run_sync(lambda: registry.events(query.get("timeframe"), since))
    return {"events": [document(e) for e in found], "cursor": found[-1].cursor if found else since}


async def stream(request: Request, console: Console) -> Response:
    """Server-Sent Events: every event after ``since``, then each new one as it commits."""
    registry = _reader(request, console)
    since = request.query_params.get("since")
    registry.events(since=since)  # a bad cursor is refused before the stream starts

    async def sent() -> AsyncIterator[str]:
        cursor = since
        while await console.streaming(request):
            found = await anyio.to_thread.run_sync(registry.events, None, cursor)
            for event in found:
                cursor = event.cursor
                yield f"id: {cursor}\nevent: change\ndata: {json.dumps(document(event))}\n\n"
            if not found:
                yield ": waiting\n\n"
            await anyio.to_thread.run_sync(lambda: registry.wait_for_changes(1.0))

    return StreamingResponse(sent(), media_type="text/event-stream")


async def described(_request: Request, _console: Console) -> Response:
    return JSONResponse(openapi())


ROUTES = [
    route("/api/v1/status", "GET", status),
    route("/api/v1/timeframes/{tf}/versions", "GET", versions),
    route("/api/v1/timeframes/{tf}/versions/{n}", "GET", version),
    route("/api/v1/timeframes/{tf}/versions/{n}/check", "GET", check),
    route("/api/v1/timeframes/{tf}/versions/{n}/promote", "POST", promote),
    route("/api/v1/timeframes/{tf}/versions/{n}/metrics", "POST", metrics),
    route("/api/v1/timeframes/{tf}/rollback", "POST", rollback),
    route("/api/v1/requests", "GET", requests),
    route("/api/v1/requests/{id}/approve", "POST", approve),
    route("/api/v1/requests/{id}/reject", "POST", reject),
    route("/api/v1/policy", "GET", policy),
    route("/api/v1/policy", "PUT", set_policy),
    route("/api/v1/history", "GET", history),
    route("/api/v1/events", "GET", events),
    route("/api/v1/events/stream", "GET", stream),
    route("/api/v1/openapi.json", "GET", described),
]

"""The OpenAPI description of ``/api/v1``, served at ``/api/v1/openapi.json``; a test
checks it against the routes and against the OpenAPI schema. Imports nothing of ours.
"""

from __future__ import annotations

from typing import Any

_TEXT = {"type": "string"}
_ENVELOPE = {
    "oneOf": [
        {"type": "object", "required": ["data"], "properties": {"data": {}}},
        {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["code", "message"],
                    "properties": {"code": _TEXT, "message": _TEXT, "hint": _TEXT},
                }
            },
        },
    ]
}
# path, method, summary, query parameters, body properties (None: no body)
OPERATIONS: list[tuple[str, str, str, list[str], dict[str, Any] | None]] = [
    ("/api/v1/status", "get", "Each timeframe's champion and count per stage", [], None),
    ("/api/v1/timeframes/{tf}/versions", "get", "A timeframe's versions", ["stage"], None),
    ("/api/v1/timeframes/{tf}/versions/{n}", "get", "One version, with its metrics", [], None),
    ("/api/v1/timeframes/{tf}/versions/{n}/check", "get", "Every gate a move faces", ["stage"],
     None),
    ("/api/v1/timeframes/{tf}/versions/{n}/promote", "post",
     "Move a version (or ask for approvals), as promote --json",
     [], {"stage": _TEXT, "reason": _TEXT, "force": {"type": "boolean"}}),
    ("/api/v1/timeframes/{tf}/versions/{n}/metrics", "post", "Record metrics", [],
     {"metrics": {"type": "object"}, "reason": _TEXT}),
    ("/api/v1/timeframes/{tf}/rollback", "post", "Bring back the previous champion", [],
     {"to_version": {"type": "integer"}, "reason": _TEXT}),
    ("/api/v1/requests", "get", "Approval requests", ["timeframe", "all"], None),
    ("/api/v1/requests/{id}/approve", "post", "Approve a request", [], {"reason": _TEXT}),
    ("/api/v1/requests/{id}/reject", "post", "Reject a request", [], {"reason": _TEXT}),
    ("/api/v1/policy", "get", "The policy in force", ["timeframe"], None),
    ("/api/v1/policy", "put", "Replace a policy (admin)", [],
     {"policy": {"type": "object"}, "timeframe": _TEXT, "reason": _TEXT}),
    ("/api/v1/history", "get", "Recorded changes, the newest 1,000 unless limit says",
     ["timeframe", "version", "limit"], None),
    ("/api/v1/events", "get", "Events after a cursor, as stagekeeper events --json",
     ["since", "timeframe"], None),
    ("/api/v1/events/stream", "get", "Server-Sent Events: the stream as it grows", ["since"],
     None),
    ("/api/v1/openapi.json", "get", "This description", [], None),
]  # fmt: skip


def openapi() -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for path, method, summary, query, body in OPERATIONS:
        parameters = [
            {"name": name, "in": "path", "required": True, "schema": _TEXT}
            for name in ("tf", "n", "id")
            if "{" + name + "}" in path
        ] + [{"name": name, "in": "query", "required": False, "schema": _TEXT} for name in query]
        operation: dict[str, Any] = {
            "summary": summary,
            "parameters": parameters,
            "responses": {
                code: {
                    "description": text,
                    "content": {"application/json": {"schema": _ENVELOPE}},
                }
                for code, text in _ANSWERS.items()
            },
        }
        if body is not None:
            schema = {"type": "object", "properties": body}
            operation["requestBody"] = {"content": {"application/json": {"schema": schema}}}
        paths.setdefault(path, {})[method] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "stagekeeper console API", "version": "1"},
        "components": {
            "securitySchemes": {"token": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"token": []}],
        "paths": paths,
    }


_ANSWERS = {
    "200": "done: {data}",
    "201": "made: {data}",
    "400": "bad input",
    "401": "not signed in",
    "403": "not allowed to this user",
    "404": "no such thing",
    "409": "refused: a lifecycle, a gate, a concurrent change",
    "503": "the store is unavailable",
}

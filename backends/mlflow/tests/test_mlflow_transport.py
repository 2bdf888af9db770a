"""stagekeeper's MLflow transport (``transport``) puts on the wire what MLflow's own client
does, request for request: method, path, query, body, credentials and headers; and MLflow's
errors come back as MLflow raises them. A header plugin sends everything MLflow's way."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from mlflow.exceptions import MlflowException
from mlflow.tracking._model_registry.client import ModelRegistryClient
from mlflow.tracking.request_header.abstract_request_header_provider import (
    RequestHeaderProvider,
)
from mlflow.tracking.request_header.registry import _request_header_provider_registry

from stagekeeper_mlflow import transport
from stagekeeper_mlflow.connection import client_for

SHOWN = ("User-Agent", "Authorization", "Content-Type", "X-Plugin")
Seen = tuple[str, str, str, dict[str, str]]


class Recorder(ThreadingHTTPServer):
    """Records each request, and answers every one with ``answer``."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.seen: list[Seen] = []
        self.answer: tuple[int, dict[str, Any]] = (200, {})


class Handler(BaseHTTPRequestHandler):
    server: Recorder

    def _record(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode()
        shown = {name: self.headers[name] for name in SHOWN if name in self.headers}
        self.server.seen.append((self.command, self.path, body, shown))
        status, document = self.server.answer
        payload = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_DELETE = do_PATCH = _record

    def log_message(self, *_args: Any) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    server = Recorder()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


Call = Callable[[Any], object]
CALLS: dict[str, Call] = {
    "search": lambda c: c.search_registered_models("name = 'a''b'", 5, None, None),
    "tag": lambda c: c.set_model_version_tag("m", "3", "stagekeeper.stage", "beta"),
    "delete": lambda c: c.delete_registered_model("m_lock"),
}


def on_the_wire(recorder: Recorder, client: Any, call: Call) -> Seen:
    recorder.seen.clear()
    call(client)
    (seen,) = recorder.seen
    return seen


def both(recorder: Recorder) -> tuple[Any, Any]:
    uri = f"http://127.0.0.1:{recorder.server_address[1]}"
    ours = client_for(f"mlflow+{uri}")
    assert isinstance(ours, transport.Client)
    return ours, ModelRegistryClient(registry_uri=uri, tracking_uri=uri)  # type: ignore[no-untyped-call]


@pytest.mark.parametrize(
    "credentials",
    [
        {},
        {"MLFLOW_TRACKING_USERNAME": "ana", "MLFLOW_TRACKING_PASSWORD": "s3cret:pw"},
        {"MLFLOW_TRACKING_TOKEN": "tok-123"},
    ],
    ids=["none", "user and password", "token"],
)
@pytest.mark.parametrize("call", CALLS.values(), ids=CALLS.keys())
def test_each_request_is_what_mlflows_own_client_sends(
    recorder: Recorder, monkeypatch: pytest.MonkeyPatch, credentials: dict[str, str], call: Call
) -> None:
    for name, value in credentials.items():
        monkeypatch.setenv(name, value)
    ours, theirs = both(recorder)
    seen = on_the_wire(recorder, ours, call)
    assert seen == on_the_wire(recorder, theirs, call)
    assert ("Authorization" in seen[3]) == bool(credentials)


def test_an_error_comes_back_as_mlflow_raises_it(recorder: Recorder) -> None:
    recorder.answer = (404, {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "no m_lock"})
    failures = []
    for client in both(recorder):
        with pytest.raises(MlflowException) as failed:
            CALLS["delete"](client)
        failures.append((failed.value.error_code, failed.value.message))
    assert (
        failures[0]
        == failures[1]
        == ("RESOURCE_DOES_NOT_EXIST", "RESOURCE_DOES_NOT_EXIST: no m_lock")
    )


def test_a_server_that_is_not_there_fails_as_with_mlflows_client(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    with Recorder() as closed:
        port = closed.server_address[1]
    failures = []
    for client in (
        client_for(f"mlflow+http://127.0.0.1:{port}"),
        ModelRegistryClient(f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port}"),  # type: ignore[no-untyped-call]
    ):
        with pytest.raises(MlflowException) as failed:
            CALLS["tag"](client)
        failures.append(failed.value.message.split(" failed with exception ")[0])
    assert failures[0] == failures[1]


class PluginHeaders(RequestHeaderProvider):  # type: ignore[misc]
    """A header plugin's provider, whose headers may change from one request to the next."""

    count = 0

    def in_context(self) -> bool:
        return True

    def request_headers(self) -> dict[str, str]:
        PluginHeaders.count += 1
        return {"X-Plugin": str(PluginHeaders.count)}


def test_with_a_header_plugin_every_request_asks_it_again(
    recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    providers = [*_request_header_provider_registry._registry, PluginHeaders()]
    monkeypatch.setattr(_request_header_provider_registry, "_registry", providers)
    ours, _theirs = both(recorder)
    first = on_the_wire(recorder, ours, CALLS["search"])[3]["X-Plugin"]
    assert on_the_wire(recorder, ours, CALLS["search"])[3]["X-Plugin"] != first


def test_an_mlflow_whose_internals_moved_gets_its_own_client(
    recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(transport, "KNOWN", False)
    client = client_for(f"mlflow+http://127.0.0.1:{recorder.server_address[1]}")
    assert type(client) is ModelRegistryClient
    CALLS["search"](client)
    assert len(recorder.seen) == 1


def test_a_proxy_in_the_environment_carries_the_requests_as_with_mlflows_client(
    recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``requests`` reads proxies from the environment; the transport reads them once per
    store, and sends through them as MLflow's client does (the recorder is the proxy:
    it sees the registry's whole URL)."""
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{recorder.server_address[1]}")
    registry = "http://127.0.0.1:9"  # nothing listens there: only the proxy answers
    ours = client_for(f"mlflow+{registry}")
    assert isinstance(ours, transport.Client)
    theirs = ModelRegistryClient(registry_uri=registry, tracking_uri=registry)  # type: ignore[no-untyped-call]
    for _ in range(2):  # the second from what the store read the first time
        seen = on_the_wire(recorder, ours, CALLS["tag"])
        assert seen == on_the_wire(recorder, theirs, CALLS["tag"])
        assert seen[1] == f"{registry}/api/2.0/mlflow/model-versions/set-tag"

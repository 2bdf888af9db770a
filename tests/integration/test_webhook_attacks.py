"""A webhook server that misbehaves never makes the worker lie or hang: a redirect is a
failed attempt whose event stays undelivered, and a sink's timeout bounds the whole attempt
against a server that answers one byte at a time."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from stagekeeper import Stage, open_registry
from stagekeeper.adapters.sinks import SIGNATURE_HEADER, WebhookSink
from stagekeeper.service.delivery import DeliveryError, deliver_once

EVENT = {"id": "op1", "type": "promoted", "timeframe": "1H"}


class Recorder(BaseHTTPRequestHandler):
    """Answers every request with the server's ``status`` (and ``location``); keeps them."""

    def _answer(self) -> None:
        server = self.server
        assert isinstance(server, RecordingServer)
        length = int(self.headers.get("Content-Length") or 0)
        server.seen.append((self.command, dict(self.headers), self.rfile.read(length)))
        self.send_response(server.status)
        if server.location:
            self.send_header("Location", server.location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = _answer

    def log_message(self, *_: object) -> None:
        return


class RecordingServer(ThreadingHTTPServer):
    def __init__(self, status: int, location: str = "") -> None:
        super().__init__(("127.0.0.1", 0), Recorder)
        self.status, self.location = status, location
        self.seen: list[tuple[str, dict[str, str], bytes]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook"


@pytest.fixture
def servers() -> Iterator[list[RecordingServer]]:
    started: list[RecordingServer] = []
    yield started
    for server in started:
        server.shutdown()
        server.server_close()


def serve(servers: list[RecordingServer], status: int, location: str = "") -> RecordingServer:
    server = RecordingServer(status, location)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    servers.append(server)
    return server


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_is_a_failed_attempt_and_nothing_reaches_the_other_origin(
    servers: list[RecordingServer], status: int
) -> None:
    elsewhere = serve(servers, 200)
    hook = serve(servers, status, location=elsewhere.url)
    sink = WebhookSink(hook.url, secret=b"s3cret", retries=1, backoff=0.0)
    with pytest.raises(DeliveryError, match=rf"HTTP {status}, a redirect to .* not followed"):
        sink(EVENT)
    assert len(hook.seen) == 2  # retried, like any failure
    assert elsewhere.seen == []  # neither the body nor the signature went anywhere else
    assert all(SIGNATURE_HEADER in headers for _, headers, _ in hook.seen)


def test_a_redirecting_sink_keeps_its_cursor_and_reports_the_failure(
    servers: list[RecordingServer],
) -> None:
    elsewhere = serve(servers, 200)
    hook = serve(servers, 302, location=elsewhere.url)
    with open_registry("memory://", actor="ana") as registry:
        registry.register("1H")
        registry.promote("1H", 1, Stage.BETA)
        done = deliver_once(registry.store, {"hook": WebhookSink(hook.url, retries=0)})
        assert done.delivered == {"hook": 0}
        assert "not followed" in done.failures["hook"]
        assert registry.store.delivered("hook") is None  # the next run starts from the start
        again = deliver_once(registry.store, {"hook": WebhookSink(hook.url, retries=0)})
        assert again.delivered == {"hook": 0} and "hook" in again.failures


@pytest.fixture
def trickling_server() -> Iterator[str]:
    """Answers every connection with an HTTP status line, one byte every 0.2 s (for 12 s)."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def trickle(conn: socket.socket) -> None:
        with conn:
            conn.recv(65536)
            for byte in b"HTTP/1.1 200 OK" + b" " * 45:
                if stop.wait(0.2):
                    return
                try:
                    conn.sendall(bytes([byte]))
                except OSError:
                    return

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=trickle, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/hook"
    stop.set()
    listener.close()


def test_a_sinks_timeout_bounds_the_whole_attempt_against_a_trickling_server(
    trickling_server: str,
) -> None:
    sink = WebhookSink(trickling_server, timeout=1.0, retries=1, backoff=0.0)
    started = time.monotonic()
    with pytest.raises(DeliveryError, match=r"no answer within 1s \(2 attempts\)"):
        sink(EVENT)
    # Two attempts of at most a second each; the server would trickle for 12 s per attempt.
    assert time.monotonic() - started < 6


def test_a_refused_connection_is_a_failed_attempt(servers: list[RecordingServer]) -> None:
    closed = serve(servers, 200)
    url = closed.url
    closed.shutdown()
    closed.server_close()
    servers.remove(closed)
    with pytest.raises(DeliveryError, match=r"\(1 attempts\)"):
        WebhookSink(url, retries=0)(EVENT)

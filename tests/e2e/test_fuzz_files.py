"""Fuzzing what stagekeeper reads from files and from the network: policy files, sink
files, and a webhook server that misbehaves in every way it can.

Files: the CLI's contract holds (``tests/fuzzing.py``), and a refused file changes nothing.
Webhooks: a sink's cursor never passes an event the server did not answer with a 2xx, a
redirect is never followed, and no attempt outlives the sink's timeout by more than a
little.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from hypothesis import assume, given
from hypothesis import strategies as st

from stagekeeper import Stage, open_registry
from stagekeeper.adapters.sinks import WebhookSink
from stagekeeper.domain.events import parse_cursor
from stagekeeper.service.delivery import deliver_once
from tests import fuzzing
from tests.fuzzing import VALUES, fuzz_settings, run_and_check, seeded

SCALARS = st.one_of(
    VALUES,
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.sampled_from(["24h", "0s", "0.5s", "90.9m", "99999999999d", "1000000000d", "-1h", "1d"]),
    st.sampled_from(["sharpe >= 1e999", "sharpe > champion.sharpe + 0.05", "x >> 1"]),
)
LEAVES = st.one_of(SCALARS, st.lists(SCALARS, max_size=3))
SECTIONS = st.sampled_from(["beta", "champion", "archived", "rollback", "development", "x"])
KEYS = st.sampled_from(
    ["require_reason", "require", "soak", "approvals", "expires", "allow_force", "gates", "bogus"]
)
POLICIES = st.dictionaries(SECTIONS, st.dictionaries(KEYS, LEAVES, max_size=4), max_size=3)
SINK_KEYS = st.sampled_from(
    ["type", "url", "secret_env", "timeout", "retries", "backoff", "command", "colour"]
)
SINK_NAMES = st.one_of(st.sampled_from(["hook", "x" * 65, "a b", ""]), st.text(max_size=8))
SINKS = st.dictionaries(
    SINK_NAMES,
    st.dictionaries(
        SINK_KEYS,
        st.one_of(LEAVES, st.sampled_from(["webhook", "command", "http://127.0.0.1:9/"])),
        max_size=5,
    ),
    max_size=2,
)


def _toml(document: dict[str, Any]) -> str | None:
    """The document as TOML, or ``None`` where TOML cannot say it (NaN keys, surrogates)."""
    try:
        text = tomli_w.dumps(document)
        text.encode("utf-8")
    except (TypeError, ValueError, UnicodeEncodeError):
        return None
    return text


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    return seeded(f"sqlite:///{tmp_path_factory.mktemp('fuzz-files') / 'fuzz.db'}")


@pytest.mark.slow
@fuzz_settings(100)
@given(document=POLICIES)
def test_fuzzed_policy_files_keep_the_contract(
    store: str, in_tmp: Path, document: dict[str, Any]
) -> None:
    text = _toml(document)
    assume(text is not None)
    assert text is not None
    path = in_tmp / "policy.toml"
    path.write_text(text, encoding="utf-8")
    with open_registry(store) as registry:
        before = registry.policy_history()
    result = run_and_check(store, ["policy", "set", "--file", str(path)], tally="policy files")
    if result.exit_code != 0:
        with open_registry(store) as registry:
            assert registry.policy_history() == before  # a refused policy is not kept
    crown = ["promote", "--timeframe", "1H", "--model-version", "3", "--target-stage",
             "champion", "--reason", "fuzz"]  # fmt: skip
    run_and_check(store, crown, tally="promotions under fuzzed policies")


@pytest.mark.slow
@fuzz_settings(100)
@given(sinks=SINKS)
def test_fuzzed_sink_files_keep_the_contract(
    store: str, in_tmp: Path, sinks: dict[str, Any]
) -> None:
    text = _toml({"sinks": sinks})
    assume(text is not None)
    assert text is not None
    path = in_tmp / "sinks.toml"
    path.write_text(text, encoding="utf-8")
    # Nothing listens on port 9: a well-formed webhook fails fast, and exits 1.
    run_and_check(store, ["events", "deliver", "--config", str(path)], tally="sink files")


# -- a webhook server that misbehaves -------------------------------------------------------

BEHAVIOURS = ["ok", "no-content", "redirect", "server-error", "reset", "trickle", "silent",
              "garbage"]  # fmt: skip
TIMEOUT = 0.4


class Misbehaving:
    """Answers each connection with the next behaviour of its script (then ``ok``), and
    keeps the event ids it answered with a 2xx."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.script: list[str] = []
        self.accepted: set[str] = set()
        self.elsewhere = 0  # requests that reached the redirect's target
        self.stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}/hook"

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            behaviour = self.script.pop(0) if self.script else "ok"
            threading.Thread(target=self._answer, args=(conn, behaviour), daemon=True).start()

    def _answer(self, conn: socket.socket, behaviour: str) -> None:
        with conn:
            conn.settimeout(5)
            try:
                request = conn.recv(65536)
                while b"\r\n\r\n" not in request:
                    request += conn.recv(65536)
                head, _, body = request.partition(b"\r\n\r\n")
                length = int(_header(head, b"content-length") or b"0")
                while len(body) < length:
                    body += conn.recv(65536)
                self._respond(conn, behaviour, head)
            except OSError:
                return

    def _respond(self, conn: socket.socket, behaviour: str, head: bytes) -> None:
        delivery = (_header(head, b"x-stagekeeper-delivery") or b"").decode()
        if behaviour in ("ok", "no-content"):
            status = b"200 OK" if behaviour == "ok" else b"204 No Content"
            self.accepted.add(delivery)
            conn.sendall(b"HTTP/1.1 " + status + b"\r\nContent-Length: 0\r\n\r\n")
        elif behaviour == "redirect":
            conn.sendall(b"HTTP/1.1 302 Found\r\nLocation: " + self.url.encode() +
                         b"/elsewhere\r\nContent-Length: 0\r\n\r\n")  # fmt: skip
        elif behaviour == "server-error":
            conn.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n")
        elif behaviour == "reset":
            conn.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
            )
        elif behaviour == "trickle":
            for byte in b"HTTP/1.1 200 OK\r\n":
                if self.stop.wait(0.1):
                    return
                conn.sendall(bytes([byte]))
        elif behaviour == "silent":
            self.stop.wait(TIMEOUT * 4)
        elif behaviour == "garbage":
            conn.sendall(b"\x00\xffnot http at all\r\n\r\n")
        if b"/elsewhere" in head.split(b"\r\n")[0]:
            self.elsewhere += 1

    def close(self) -> None:
        self.stop.set()
        self.listener.close()


def _header(head: bytes, name: bytes) -> bytes | None:
    for line in head.split(b"\r\n")[1:]:
        key, _, value = line.partition(b":")
        if key.strip().lower() == name:
            return value.strip()
    return None


@pytest.fixture(scope="module")
def server() -> Iterator[Misbehaving]:
    running = Misbehaving()
    yield running
    running.close()


@pytest.fixture(scope="module")
def events_store() -> Iterator[Any]:
    with open_registry("memory://", actor="ana") as registry:
        for _ in range(3):
            version = registry.register("1H").version
            registry.promote("1H", version, Stage.BETA)
        yield registry


@pytest.mark.slow
@fuzz_settings(40)
@given(
    script=st.lists(st.sampled_from(BEHAVIOURS), max_size=6),
    retries=st.integers(0, 1),
)
def test_a_misbehaving_webhook_never_moves_a_cursor_past_an_event_it_did_not_take(
    server: Misbehaving, events_store: Any, script: list[str], retries: int
) -> None:
    registry = events_store
    server.script[:] = list(script)
    server.accepted.clear()
    name = f"fuzz-{time.monotonic_ns()}"
    sink = WebhookSink(server.url, timeout=TIMEOUT, retries=retries, backoff=0.0)
    started = time.monotonic()
    done = deliver_once(registry.store, {name: sink})
    attempts = len(registry.events()) * (retries + 1)
    assert time.monotonic() - started < attempts * (TIMEOUT + 0.3) + 1  # no attempt hangs
    cursor = registry.store.delivered(name)
    events = registry.events()
    passed = [] if cursor is None else [
        e for e in events if e.sequence <= parse_cursor(cursor)["1H"].sequence
    ]  # fmt: skip
    assert all(event.operation_id in server.accepted for event in passed)
    assert done.delivered[name] == len(passed)
    assert (name in done.failures) == (len(passed) < len(events))
    assert server.elsewhere == 0  # a redirect is never followed
    fuzzing.TALLY["webhook server behaviours"] += len(script) or 1

"""Event delivery to a real local webhook: every committed event reaches a de-duplicating
consumer exactly once and in order, when the sink is down for a while, when the worker is
killed in the middle of a batch, and beside 8 concurrent writers; on SQLite, PostgreSQL and
MLflow."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from stagekeeper import Registry, Stage, open_registry
from stagekeeper.adapters.sinks import SIGNATURE_HEADER, WebhookSink, sign
from stagekeeper.domain.events import document
from stagekeeper.service.delivery import deliver, deliver_once

SECRET = b"test-secret"
COMMAND = str(Path(sys.executable).parent / "stagekeeper")


@dataclass
class Consumer:
    """A deployer's webhook: checks the signature, keeps each event once, in arrival order."""

    down_for: int = 0  # how many requests to refuse with 503 first
    delay: float = 0.0
    received: list[dict[str, object]] = field(default_factory=list)
    requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, body: bytes, signature: str | None) -> int:
        with self.lock:
            self.requests += 1
            if self.requests <= self.down_for:
                return 503
        assert signature == "sha256=" + sign(SECRET, body)
        time.sleep(self.delay)
        event = json.loads(body)
        with self.lock:
            if all(seen["id"] != event["id"] for seen in self.received):
                self.received.append(event)
        return 204

    def ids(self) -> list[object]:
        return [event["id"] for event in self.received]


@pytest.fixture
def consumer() -> Iterator[tuple[Consumer, str]]:
    state = Consumer()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(state.take(body, self.headers.get(SIGNATURE_HEADER)))
            self.end_headers()

        def log_message(self, *_: object) -> None:  # quiet
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}/hook"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres), "mlflow"])
def store_url(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    model_prefix: str,
    monkeypatch: pytest.MonkeyPatch,
) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'events.db'}"
    if request.param == "postgresql":
        url: str = request.getfixturevalue("postgres_url")
        return url
    monkeypatch.setenv("STAGEKEEPER_MODEL_NAME_TEMPLATE", model_prefix + "{timeframe}_model")
    mlflow_url: str = request.getfixturevalue("mlflow_sqlite_url")
    return mlflow_url


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


def opened(url: str) -> Registry:
    return open_registry(url, actor="writer")


def crown_some(registry: Registry, timeframe: str, count: int) -> None:
    for _ in range(count):
        version = registry.register(timeframe, source="s3://bucket/model").version
        registry.promote(timeframe, version, Stage.BETA)
        registry.promote(timeframe, version, Stage.CHAMPION)


def assert_exactly_once_in_order(registry: Registry, consumer: Consumer) -> None:
    committed = [document(e) for e in registry.events()]
    assert sorted(consumer.ids()) == sorted(e["id"] for e in committed)  # type: ignore[type-var]
    assert len(consumer.ids()) == len(committed)
    for timeframe in {e["timeframe"] for e in committed}:
        sequences = [e["sequence"] for e in consumer.received if e["timeframe"] == timeframe]
        assert sequences == sorted(sequences), timeframe  # each timeframe in commit order


def test_a_sink_that_is_down_for_a_while_gets_everything_once(
    store_url: str, consumer: tuple[Consumer, str]
) -> None:
    state, url = consumer
    state.down_for = 7
    sink = WebhookSink(url, secret=SECRET, retries=1, backoff=0.01, timeout=5)
    with opened(store_url) as registry:
        crown_some(registry, "1H", 2)
        crown_some(registry, "4H", 1)
        first = deliver_once(registry.store, {"hook": sink})
        assert first.failures  # down: two attempts, then the round stops
        rounds = 1
        while deliver_once(registry.store, {"hook": sink}).failures:
            rounds += 1
            assert rounds < 10
        crown_some(registry, "1H", 1)
        deliver_once(registry.store, {"hook": sink})
        assert_exactly_once_in_order(registry, state)
        assert registry.store.delivered("hook") == registry.events()[-1].cursor


def test_a_worker_killed_in_a_batch_resumes_from_its_cursor(
    store_url: str, consumer: tuple[Consumer, str], tmp_path: Path
) -> None:
    state, url = consumer
    state.delay = 0.05
    with opened(store_url) as registry:
        crown_some(registry, "1H", 8)
    config = tmp_path / "sinks.toml"
    config.write_text(
        f'[sinks.hook]\ntype = "webhook"\nurl = "{url}"\nsecret_env = "HOOK_SECRET"\n',
        encoding="utf-8",
    )
    env = {**os.environ, "HOOK_SECRET": SECRET.decode(), "STAGEKEEPER_STORE": store_url}
    worker = [COMMAND, "events", "deliver", "--config", str(config)]
    with subprocess.Popen(worker, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as run:
        while len(state.received) < 5:
            time.sleep(0.02)
            assert run.poll() is None
        run.send_signal(signal.SIGKILL)
    taken = len(state.received)
    assert taken < 24  # killed in the middle of the batch
    finished = subprocess.run(worker, env=env, capture_output=True, text=True, timeout=120)
    assert finished.returncode == 0, finished.stderr
    assert state.requests >= 24  # at least once: the event in flight may come twice
    with opened(store_url) as registry:
        assert_exactly_once_in_order(registry, state)


def test_delivery_beside_eight_concurrent_writers(
    store_url: str, consumer: tuple[Consumer, str]
) -> None:
    state, url = consumer
    sink = WebhookSink(url, secret=SECRET, retries=3, backoff=0.01)
    stop = threading.Event()
    with opened(store_url) as worker:
        delivering = threading.Thread(
            target=lambda: deliver(
                worker.store, {"hook": sink}, follow=True, interval=0.05, report=lambda _: None,
                sleep=stop.wait, stopped=stop.is_set,
            ),
            daemon=True,
        )  # fmt: skip
        delivering.start()

        def write(timeframe: str) -> None:
            with opened(store_url) as registry:
                crown_some(registry, timeframe, 2)

        writers = [threading.Thread(target=write, args=(f"T{n % 4}",)) for n in range(8)]
        for writer in writers:
            writer.start()
        for writer in writers:
            writer.join()
        stop.set()
        delivering.join(timeout=60)
        deliver_once(worker.store, {"hook": sink})  # whatever came after the worker's last look
        assert_exactly_once_in_order(worker, state)
        assert len(state.received) == 8 * 2 * 3

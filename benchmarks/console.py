"""The console's speed: each page and API call at 100,000 versions against 1,000, the
overview's and a review's absolute time at 100,000, and the time from a commit to the live
page (PostgreSQL's NOTIFY, SQLite's polling). Pages are rendered in process (Starlette's
test client, no network), timed in turn across sizes as in ``scale``.

Pages over every timeframe (the overview, the status) are compared on 100 timeframes of 10
and of 1,000 versions, an answer of the same size; pages of one timeframe on 1 and 100
timeframes of 1,000 versions, as ``scale`` does.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from statistics import median
from typing import Any

from tests.services.postgres import create_database

from benchmarks.report import Result
from benchmarks.scale import STATUS_TIMEFRAMES, VERSIONS, bulk_load, in_turn_calls, loaded
from benchmarks.services import postgres_server
from benchmarks.timing import Sample
from stagekeeper import Stage, open_registry
from stagekeeper.service.registry import Registry

TARGET_RATIO, TARGET_MS = 1.5, 50.0
EVERY_TIMEFRAME = ("/", "/fragments/overview", "/api/v1/status", "/requests", "/policy",
                   "/audit", "/api/v1/history?limit=100", "/api/v1/requests")  # fmt: skip
ONE_TIMEFRAME = ("/timeframes/T000", "/timeframes/T000/versions/{beta}",
                 "/api/v1/timeframes/T000/versions?stage=beta",
                 "/api/v1/timeframes/T000/versions/{beta}",
                 "/api/v1/timeframes/T000/versions/{beta}/check?stage=champion",
                 "/api/v1/history?timeframe=T000&limit=100",
                 "/api/v1/events?timeframe=T000")  # fmt: skip
ABSOLUTE = {"/": "the overview", "/timeframes/T000/versions/{beta}": "a version's review"}
PROMOTE = "POST promote (a champion, through the API)"


def _client(registry: Registry) -> tuple[Any, dict[str, str]]:
    from starlette.testclient import TestClient

    from stagekeeper.web.app import create_app

    token, _ = registry.create_token("bench", "admin")
    return TestClient(create_app(registry)), {"Authorization": f"Bearer {token}"}


def _get(client: Any, headers: dict[str, str], path: str) -> Callable[[int], object]:
    def call(_: int) -> object:
        answer = client.get(path, headers=headers)
        assert answer.status_code == 200, (path, answer.status_code, answer.text[:200])
        return answer

    return call


def _promote(registry: Registry, client: Any, headers: dict[str, str]) -> Callable[[int], object]:
    betas = [v.version for v in registry.list("T000", Stage.BETA)]

    def call(_: int) -> object:
        path = f"/api/v1/timeframes/T000/versions/{betas.pop()}/promote"
        answer = client.post(path, headers=headers, json={"stage": "champion"})
        assert answer.status_code == 201, answer.text[:200]
        return answer

    return call


def _compare(
    store: str,
    paths: dict[str, list[Callable[[int], object]]],
    sizes: tuple[str, str],
    rounds: int,
) -> tuple[list[Result], dict[str, Sample]]:
    results, at_large = [], {}
    for name, per_size in paths.items():
        small, large = in_turn_calls(per_size, rounds)
        at_large[name] = large
        results.append(Result(
            f"console {name} on {store}: {sizes[1]} against {sizes[0]}",
            f"{small.median * 1000:.2f} ms / {large.median * 1000:.2f} ms",
            round(large.median / small.median, 2), "x", TARGET_RATIO,
            {"small": small.ms(), "large": large.ms()},
        ))  # fmt: skip
    return results, at_large


def measure_store(fresh: Callable[[str], str], store: str, rounds: int, big: int) -> list[Result]:
    counts = (10, big)
    urls, _ = loaded(lambda c: fresh(f"all-{c}"), counts,
                     lambda url, c: bulk_load(url, STATUS_TIMEFRAMES, c))  # fmt: skip
    per_tf, _ = loaded(lambda s: fresh(f"one-{s}"), (1, 100), lambda url, s: bulk_load(url, s, big))
    results: list[Result] = []
    with ExitStack() as stack:
        every = [_client(stack.enter_context(open_registry(urls[c], actor="b"))) for c in counts]
        labels = (f"{STATUS_TIMEFRAMES * 10:,} versions", f"{STATUS_TIMEFRAMES * big:,}")
        every_path = {path: [_get(c, h, path) for c, h in every] for path in EVERY_TIMEFRAME}
        results += _compare(store, every_path, labels, rounds)[0]
        registries = [stack.enter_context(open_registry(per_tf[s], actor="b")) for s in (1, 100)]
        clients = [_client(r) for r in registries]
        beta = registries[0].list("T000", Stage.BETA)[0].version
        paths = {p.format(beta=beta): [_get(c, h, p.format(beta=beta)) for c, h in clients]
                 for p in ONE_TIMEFRAME}  # fmt: skip
        paths[PROMOTE] = [_promote(r, c, h) for r, (c, h) in zip(registries, clients, strict=True)]
        found, at_large = _compare(store, paths, (f"{big:,} versions", f"{100 * big:,}"), rounds)
        results += found
        overview = in_turn_calls([_get(c, h, "/") for c, h in every[-1:]], rounds)[0]
        review = at_large[ONE_TIMEFRAME[1].format(beta=beta)]
    for name, sample in (("the overview", overview), ("a version's review", review)):
        results.append(Result(
            f"console {name} on {store} at {STATUS_TIMEFRAMES * big:,} versions",
            f"p95 {sample.p95 * 1000:.2f} ms", round(sample.median * 1000, 2), " ms", TARGET_MS,
            sample.ms(),
        ))  # fmt: skip
    return results


@contextmanager
def _serving(registry: Registry) -> Iterator[str]:
    import uvicorn

    from stagekeeper.web.app import create_app

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(registry), port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def live_latency(url: str, store: str, commits: int) -> Result:
    """Seconds from a commit (by another registry) to the live page's event, each time."""
    import httpx2 as httpx

    waits: list[float] = []
    with open_registry(url, actor="bench") as server_side, open_registry(url, actor="w") as writer:
        writer.register("L")
        token, _ = server_side.create_token("bench", "viewer")
        with _serving(server_side) as base:
            for _ in range(commits):
                version = writer.register("L").version
                mark = writer.history("L", limit=1)[-1].operation_id
                got = threading.Event()

                def listen(after: str = mark, got: threading.Event = got) -> None:
                    with httpx.stream("GET", f"{base}/fragments/overview/changes?after={after}",
                                      headers={"Authorization": f"Bearer {token}"},
                                      timeout=30) as answer:  # fmt: skip
                        for line in answer.iter_lines():
                            if line.startswith("event: change"):
                                got.set()
                                return

                listener = threading.Thread(target=listen, daemon=True)
                listener.start()
                time.sleep(0.3)  # the page is open and waiting
                writer.promote("L", version, "beta")
                started = time.perf_counter()
                assert got.wait(30), "the live page never heard of the commit"
                waits.append(time.perf_counter() - started)
                listener.join(timeout=5)
    return Result(
        f"console: a commit to the live page on {store}",
        f"median of {commits}, max {max(waits) * 1000:.0f} ms",
        round(median(waits) * 1000, 1), " ms", None, {"seconds": waits},
    )  # fmt: skip


def measure(folder: Path, rounds: int, big: int = VERSIONS) -> list[Result]:
    results = measure_store(lambda name: f"sqlite:///{folder / f'console-{name}.db'}",
                            "SQLite", rounds, big)  # fmt: skip
    results.append(live_latency(f"sqlite:///{folder / 'live.db'}", "SQLite (polling)", 5))
    with ExitStack() as stack:
        server = stack.enter_context(postgres_server())
        results += measure_store(lambda _: create_database(server, "console"), "PostgreSQL",
                                 rounds, big)  # fmt: skip
        results.append(live_latency(create_database(server, "live"), "PostgreSQL (NOTIFY)", 5))
    return results

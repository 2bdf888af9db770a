"""The floor of a champion promotion through an MLflow server: its requests and nothing else.

A design probe, not one of the targets (decision 18): ``python -m benchmarks.mlflow_floors``
starts an ``mlflow server`` on 127.0.0.1 with MLflow's default of 4 workers, as the latency
benchmark does, and times in turn, one promotion of each, against the hand-written
``MlflowClient`` sequence on a model kept by hand (100 versions each):

- stagekeeper's promotion;
- the requests it sends (8, in 5 round trips), sent raw: ``requests.Session`` and a thread
  pool, no stagekeeper and no MLflow client; the same with the three writes one after another;
  the same with the model searched together with the settings model, as a write reads it
  where a policy is set or may be (decision 17);
- the shape of decision 18: no lock, the history's newest records read with the rest, the
  record, the writes (7 requests in 3 round trips).

Each raw shape keeps its own model and a history model of as many records as stagekeeper's,
so that both write to histories of one size; the settings model it may search for does not
exist, as in stagekeeper's registry here. Each figure is the
median of ``ROUNDS`` promotions against the sequence's median in the same turns
(``--rounds`` changes it).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests

from benchmarks.history_layouts import RECORD
from benchmarks.latency import (
    SOURCE,
    STAGE_TAG,
    kept_by_hand,
    mlflow_baseline,
    prepared,
    side_by_side,
)
from benchmarks.services import mlflow_tracking_server
from stagekeeper import Stage, open_registry

VERSIONS, ROUNDS = 100, 60
SETTINGS = "floors_settings"
Promotion = Callable[[int], object]


class Raw:
    """MLflow's REST API by hand: one session, and a pool for requests sent at once."""

    def __init__(self, url: str) -> None:
        self.api = f"{url}/api/2.0/mlflow/"
        self.session = requests.Session()
        self.pool = ThreadPoolExecutor(3)

    def get(self, path: str, **params: object) -> Any:
        answer = self.session.get(self.api + path, params=params)
        answer.raise_for_status()
        return answer.json()

    def post(self, path: str, body: dict[str, Any], method: str = "POST") -> Any:
        answer = self.session.request(method, self.api + path, json=body)
        answer.raise_for_status()
        return answer.json()

    def at_once(self, *calls: Callable[[], object]) -> None:
        """The calls under way together: the first in this thread, the rest in the pool."""
        futures = [self.pool.submit(call) for call in calls[1:]]
        calls[0]()
        for future in futures:
            future.result()


class Shapes:
    """The raw promotions of one model ``name``, whose history model is ``name_history``."""

    def __init__(self, raw: Raw, name: str) -> None:
        self.raw, self.name, self.history = raw, name, f"{name}_history"
        self.lock = f"{name}_lock"

    def locked(self, *, sequential_writes: bool = False, settings: bool = False) -> Promotion:
        """stagekeeper's 8 requests: the lock, two reads, the record, three writes, unlock."""

        def promote(version: int) -> None:
            self.raw.post("registered-models/create", {"name": self.lock})
            self.raw.at_once(self._model(settings), self._versions(version))
            self._record()
            writes = self._writes(version)
            if sequential_writes:
                for write in writes:
                    write()
            else:
                self.raw.at_once(*writes)
            self.raw.post("registered-models/delete", {"name": self.lock}, "DELETE")

        return promote

    def optimistic(self, version: int) -> None:
        """Decision 18's 7 requests: three reads at once, the record, three writes at once."""
        newest = {"order_by": "version_number DESC", "max_results": 10}
        filter_ = f"name='{self.history}'"
        self.raw.at_once(
            self._model(settings=False),
            self._versions(version),
            lambda: self.raw.get("model-versions/search", filter=filter_, **newest),
        )
        self._record()
        self.raw.at_once(*self._writes(version))

    def _model(self, settings: bool) -> Callable[[], object]:
        if settings:
            names = f"name IN ('{self.name}', '{SETTINGS}')"
            return lambda: self.raw.get("registered-models/search", filter=names)
        return lambda: self.raw.get("registered-models/get", name=self.name)

    def _versions(self, version: int) -> Callable[[], object]:
        wanted = (
            f"name='{self.name}' AND version_number >= {version - 1} "
            f"AND version_number <= {version}"
        )
        return lambda: self.raw.get("model-versions/search", filter=wanted)

    def _record(self) -> None:
        tags = [{"key": "writer", "value": "w" * 32}, {"key": "record", "value": RECORD}]
        body = {"name": self.history, "source": "s3://bench/history", "tags": tags}
        self.raw.post("model-versions/create", body)

    def _writes(self, version: int) -> list[Callable[[], object]]:
        def tag(number: int, stage: str) -> Callable[[], object]:
            body = {"name": self.name, "version": str(number), "key": STAGE_TAG, "value": stage}
            return lambda: self.raw.post("model-versions/set-tag", body)

        alias = {"name": self.name, "alias": "champion", "version": str(version)}
        return [
            lambda: self.raw.post("registered-models/alias", alias),
            tag(version, "champion"),
            tag(version - 1, "archived"),
        ]


def main() -> None:
    from mlflow.tracking import MlflowClient

    parser = argparse.ArgumentParser(prog="python -m benchmarks.mlflow_floors")
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    rounds = parser.parse_args().rounds
    with mlflow_tracking_server() as url:
        client = MlflowClient(tracking_uri=url, registry_uri=url)
        raw = Raw(url)
        shapes: dict[str, Promotion] = {}
        for label, make in {
            "the same 8 raw, in 5 round trips": lambda s: s.locked(),
            "the same 8 raw, the writes one after another": lambda s: s.locked(
                sequential_writes=True
            ),
            "the same 8 raw, the model searched with the settings": lambda s: s.locked(
                settings=True
            ),
            "decision 18: 7 raw, in 3 round trips": lambda s: s.optimistic,
        }.items():
            name = f"raw{len(shapes)}"
            kept_by_hand(client, name, VERSIONS, rounds + 7)
            client.create_registered_model(f"{name}_history")
            for _ in range(VERSIONS + rounds + 8):  # prepared's registrations and moves
                raw.post("model-versions/create", {"name": f"{name}_history", "source": SOURCE})
            shapes[label] = make(Shapes(raw, name))
        kept_by_hand(client, "by_hand", VERSIONS, rounds + 7)
        with open_registry(
            f"mlflow+{url}", actor="bench", model_name_template="sk_{timeframe}"
        ) as registry:
            prepared(registry, "SK", VERSIONS, rounds + 7, source=SOURCE)
            calls = [lambda v: registry.promote("SK", v, Stage.CHAMPION), *shapes.values()]
            *samples, baseline = side_by_side([*calls, mlflow_baseline(client, "by_hand")], rounds)
        print(f"against the hand-written MlflowClient sequence, {baseline.median * 1000:.1f} ms:")
        for label, sample in zip(["stagekeeper's promotion", *shapes], samples, strict=True):
            print(f"  {sample.median / baseline.median:.2f}x  {label}")


if __name__ == "__main__":
    main()

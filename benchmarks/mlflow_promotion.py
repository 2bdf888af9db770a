"""How much a stagekeeper promotion costs on MLflow, against a hand-written one.

Starts a real ``mlflow server`` on 127.0.0.1, registers a model with many versions, then
crowns champions over and over, two ways, in the same run:

- baseline: what a script would do by hand with ``MlflowClient``: move the ``champion``
  alias and re-tag the old and new champion (no history, no lock, no checks);
- stagekeeper: ``Registry.promote(..., "champion")`` with its checks, lock and history.

It prints the HTTP requests per promotion and the median time per promotion of each, and
the ratios stagekeeper / baseline. Run it with the test environment installed:

    .venv/bin/python benchmarks/mlflow_promotion.py [--versions 100] [--rounds 20]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.services
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")

import mlflow.utils.rest_utils as rest_utils
from mlflow.tracking import MlflowClient
from tests.services import mlflow_server

from stagekeeper import open_registry

STAGE_TAG = "stagekeeper.stage"


@contextmanager
def counting_requests() -> Iterator[list[int]]:
    """Counts every HTTP request MLflow's client sends, in ``count[0]``."""
    count = [0]
    real = rest_utils.http_request

    def counted(*args: Any, **kwargs: Any) -> Any:
        count[0] += 1
        return real(*args, **kwargs)

    rest_utils.http_request = counted
    try:
        yield count
    finally:
        rest_utils.http_request = real


def measure(promote: Callable[[int], None], versions: list[int]) -> tuple[float, float]:
    """Median seconds and mean HTTP requests per promotion."""
    seconds = []
    with counting_requests() as count:
        for version in versions:
            start = time.perf_counter()
            promote(version)
            seconds.append(time.perf_counter() - start)
        requests = count[0] / len(versions)
    return statistics.median(seconds), requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--versions", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder, mlflow_server.running(Path(folder)) as url:
        client = MlflowClient(tracking_uri=url, registry_uri=url)
        registry = open_registry(url.replace("http://", "mlflow+http://"), actor="bench")
        results = {}
        for label, timeframe in (("baseline", "1H"), ("stagekeeper", "4H")):
            name = registry.model_name(timeframe)
            for number in range(args.versions):
                registry.register(timeframe, source=f"s3://bench/{number}")
            for number in range(1, args.rounds + 1):
                registry.promote(timeframe, number, "beta")
            crowned = list(range(1, args.rounds + 1))
            if label == "baseline":
                state = {"champion": None}

                def by_hand(version: int, name: str = name, state: dict[str, Any] = state) -> None:
                    client.set_registered_model_alias(name, "champion", str(version))
                    client.set_model_version_tag(name, str(version), STAGE_TAG, "champion")
                    if state["champion"] is not None:
                        client.set_model_version_tag(name, state["champion"], STAGE_TAG, "archived")
                    state["champion"] = str(version)

                results[label] = measure(by_hand, crowned)
            else:
                results[label] = measure(
                    lambda v, tf=timeframe: registry.promote(tf, v, "champion"), crowned
                )
        (base_s, base_r), (sk_s, sk_r) = results["baseline"], results["stagekeeper"]
        print(
            json.dumps(
                {
                    "versions_per_model": args.versions,
                    "promotions": args.rounds,
                    "baseline": {"median_ms": round(base_s * 1000, 1), "http_requests": base_r},
                    "stagekeeper": {"median_ms": round(sk_s * 1000, 1), "http_requests": sk_r},
                    "ratio_time": round(sk_s / base_s, 2),
                    "ratio_requests": round(sk_r / base_r, 2),
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()

"""Where the history could live on MLflow: one request's cost as the history grows.

The design probe that chose the history's model of its own (decision 3); not one of the
targets: ``python -m benchmarks.history_layouts`` starts an
``mlflow server`` on 127.0.0.1 and writes the same records, 1,000 and then 3,000 of them,
to three places, timing after each size the requests a write would make there:

- the registered model's tags, where the history was kept first (MLflow's server reads every
  tag of a model on each write to it, and sends them all with each read of it);
- runs of an experiment, a run per record;
- versions of a registered model of its own, a version per record (MLflow numbers them):
  where it is kept now.

The model whose tags hold the history has 100 versions, as the latency benchmark's does.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from benchmarks.services import mlflow_tracking_server
from benchmarks.timing import calls

SIZES = (1000, 3000)
RUNS = 15
RECORD = json.dumps(
    {
        "writer": "w" * 32,
        "operation_id": "o" * 32,
        "at": "2026-11-29T00:00:00+00:00",
        "actor": "alice",
        "reason": "weekly retrain",
        "changes": [
            {"version": 7, "from": "beta", "to": "champion", "cause": "promotion"},
            {"version": 5, "from": "champion", "to": "archived", "cause": "auto-demotion"},
        ],
    }
)


def _record_writers(client: Any, experiment: str) -> Callable[[int], None]:
    """Writes record ``i`` to each of the three places."""
    from mlflow.entities.model_registry import RegisteredModelTag

    registry = client._get_registry_client().store

    def write(i: int) -> None:
        registry.set_registered_model_tag(
            "tagged", RegisteredModelTag(f"stagekeeper.history.{i:017d}.op", RECORD)
        )
        client.create_run(experiment, tags={"timeframe": "1H", "writer": f"w{i}", "r": RECORD})
        client.create_model_version(
            "history", "s3://bench/history", tags={"writer": f"w{i}", "r": RECORD},
            await_creation_for=0,
        )  # fmt: skip

    return write


def _requests(client: Any, experiment: str) -> dict[str, Callable[[int], object]]:
    """The requests to time, each as a call given its number."""
    from mlflow.entities.model_registry import RegisteredModelTag

    registry = client._get_registry_client().store
    return {
        "model tags: set a tag": lambda i: registry.set_registered_model_tag(
            "tagged", RegisteredModelTag("probe", str(i))
        ),
        "model tags: read the model": lambda _: registry.get_registered_model("tagged"),
        "runs: create one": lambda _: client.create_run(
            experiment, tags={"timeframe": "4H", "writer": "p", "r": RECORD}
        ),
        "runs: the newest of a timeframe": lambda _: client.search_runs(
            [experiment],
            "tags.timeframe = '1H'",
            order_by=["attributes.start_time DESC"],
            max_results=1,
        ),
        "runs: a writer's": lambda _: client.search_runs(
            [experiment], "tags.writer = 'w5'", max_results=5
        ),
        "history model: create a version": lambda _: client.create_model_version(
            "history", "s3://bench/history", tags={"r": RECORD}, await_creation_for=0
        ),
        "history model: its newest version": lambda _: client.search_model_versions(
            "name = 'history'", order_by=["version_number DESC"], max_results=1
        ),
    }


def main() -> None:
    from mlflow.tracking import MlflowClient

    with mlflow_tracking_server() as url:
        client = MlflowClient(tracking_uri=url, registry_uri=url)
        experiment = client.create_experiment("stagekeeper history")
        client.create_registered_model("tagged")
        client.create_registered_model("history")
        for _ in range(100):
            client.create_model_version("tagged", "s3://bench/model", await_creation_for=0)
        write, written = _record_writers(client, experiment), 0
        requests = _requests(client, experiment)
        print("| records | " + " | ".join(requests) + " |")
        print("|---:|" + "---:|" * len(requests))
        for size in SIZES:
            for i in range(written, size):
                write(i)
            written = size
            medians = [calls(call, RUNS).median * 1000 for call in requests.values()]
            print(f"| {size:,} | " + " | ".join(f"{ms:.1f} ms" for ms in medians) + " |")


if __name__ == "__main__":
    main()

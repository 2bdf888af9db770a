"""The stores the stress command runs on, each started for the run and thrown away after.
``Store.fresh()`` gives each scenario a store of its own: a new SQLite file, a new
PostgreSQL database, or new model names on a shared MLflow registry."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

TEMPLATE = "{timeframe}_trading_model"


@dataclass(frozen=True)
class Store:
    name: str
    fresh: Callable[[], tuple[str, str]]  # a new store's URL and model-name template


def _unique() -> str:
    return uuid.uuid4().hex[:10]


@contextmanager
def sqlite() -> Iterator[Store]:
    with tempfile.TemporaryDirectory(prefix="stagekeeper-stress-") as folder:
        yield Store("SQLite", lambda: (f"sqlite:///{folder}/{_unique()}.db", TEMPLATE))


@contextmanager
def postgres() -> Iterator[Store]:
    from tests.services import postgres as server

    with server.given_or_throwaway() as base:
        yield Store("PostgreSQL", lambda: (server.create_database(base, "stress"), TEMPLATE))


@contextmanager
def mlflow_server() -> Iterator[Store]:
    from tests.services import mlflow_server as server

    with (
        tempfile.TemporaryDirectory(prefix="stagekeeper-stress-mlflow-") as folder,
        server.running(Path(folder)) as url,
    ):
        shared = url.replace("http://", "mlflow+http://")
        yield Store("MLflow server", lambda: (shared, f"m{_unique()}_{TEMPLATE}"))


@contextmanager
def embedded_mlflow() -> Iterator[Store]:
    with tempfile.TemporaryDirectory(prefix="stagekeeper-stress-mlflow-") as folder:
        shared = f"mlflow+sqlite:///{folder}/registry.db"
        yield Store("MLflow embedded", lambda: (shared, f"m{_unique()}_{TEMPLATE}"))


@contextmanager
def memory() -> Iterator[Store]:
    yield Store("memory", lambda: ("memory://", TEMPLATE))

"""The services a benchmark needs, started for the run: the same helpers the tests use."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.services import mlflow_server, postgres


@contextmanager
def postgres_server() -> Iterator[str]:
    """``$STAGEKEEPER_TEST_POSTGRES_URL``'s server, else a throwaway one: its URL."""
    with postgres.given_or_throwaway() as server:
        yield server


@contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh database on ``postgres_server``."""
    with postgres_server() as server:
        yield postgres.create_database(server, "bench")


@contextmanager
def mlflow_tracking_server(workers: int = 4) -> Iterator[str]:
    """The http:// URL of a fresh ``mlflow server`` on 127.0.0.1, with ``workers`` worker
    processes (4: MLflow's default, what a team runs)."""
    with (
        tempfile.TemporaryDirectory(prefix="stagekeeper-bench-mlflow-") as folder,
        mlflow_server.running(Path(folder), workers=workers) as url,
    ):
        yield url

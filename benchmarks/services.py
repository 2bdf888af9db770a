"""The services a benchmark needs, started for the run: the same helpers the tests use."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.services import mlflow_server, postgres


@contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh database: on ``$STAGEKEEPER_TEST_POSTGRES_URL``'s server, else a throwaway one."""
    import psycopg
    from sqlalchemy.engine import make_url

    with tempfile.TemporaryDirectory(prefix="stagekeeper-bench-pg-") as folder:
        given = os.environ.get("STAGEKEEPER_TEST_POSTGRES_URL")
        server = make_url(given or postgres.start(Path(folder)))
        try:
            name = f"bench_{uuid.uuid4().hex[:10]}"
            admin = server.set(drivername="postgresql").render_as_string(hide_password=False)
            with psycopg.connect(admin, autocommit=True) as connection:
                connection.execute(f'CREATE DATABASE "{name}"')
            yield server.set(database=name).render_as_string(hide_password=False)
        finally:
            if not given:
                postgres.stop(Path(folder))


@contextmanager
def mlflow_tracking_server() -> Iterator[str]:
    """The http:// URL of a fresh ``mlflow server`` on 127.0.0.1."""
    with (
        tempfile.TemporaryDirectory(prefix="stagekeeper-bench-mlflow-") as folder,
        mlflow_server.running(Path(folder)) as url,
    ):
        yield url

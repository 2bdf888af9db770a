"""Fixtures shared by every test: a quiet MLflow client and real PostgreSQL databases."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

# MLflow's client phones home unless told not to; nothing here leaves 127.0.0.1.
os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
os.environ["DO_NOT_TRACK"] = "true"

POSTGRES_ENV = "STAGEKEEPER_TEST_POSTGRES_URL"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """URL of a PostgreSQL server: ``$STAGEKEEPER_TEST_POSTGRES_URL``, else a throwaway one.

    In CI the server must be there: a missing one fails the run instead of skipping.
    """
    given = os.environ.get(POSTGRES_ENV)
    if given:
        yield given
        return
    from tests.services import postgres

    base = Path(tempfile.mkdtemp(prefix="stagekeeper-pg-"))
    try:
        try:
            url = postgres.start(base)
        except postgres.Unavailable as exc:
            if os.environ.get("CI"):
                pytest.fail(f"PostgreSQL is required in CI: {exc}")
            pytest.skip(str(exc))
        yield url
    finally:
        postgres.stop(base)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A fresh, empty database on the server, dropped after the test."""
    import psycopg
    from sqlalchemy.engine import make_url
    from tests.services import postgres

    url = postgres.create_database(postgres_server, "stagekeeper_test")
    yield url
    name = make_url(url).database
    admin = make_url(postgres_server).set(drivername="postgresql")
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as db:
        db.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a real ``mlflow server`` on 127.0.0.1, started once for the session."""
    from tests.services import mlflow_server

    with mlflow_server.running(tmp_path_factory.mktemp("mlflow-server")) as url:
        yield url


@pytest.fixture(scope="session")
def mlflow_sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """An embedded MLflow registry shared by the session (tests isolate by model names)."""
    return f"mlflow+sqlite:///{tmp_path_factory.mktemp('mlflow-embedded') / 'registry.db'}"


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in a throwaway folder, so that relative paths (fuzzed URLs) land there."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def model_prefix() -> str:
    """A model-name prefix of the test's own, so tests sharing one registry never meet."""
    return f"t{uuid.uuid4().hex[:10]}_"


LEVELS = ("unit", "contract", "integration", "e2e")
# What the inner loop (``pytest -m inner``) leaves to the whole suite: the slow tests and
# those that start a server (PostgreSQL, an MLflow server, a browser, a webhook).
OUTER_LOOP = {"slow", "postgres", "mlflow_server"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test with its level, from where it lives: ``tests/<level>/``, and in a
    backend's own tests, its contract module or else integration (a real database or
    MLflow). ``pytest -m unit`` and the like select one level, and ``pytest -m inner`` the
    inner loop: every level but integration, without the slow tests or a server."""
    for item in items:
        parts = Path(str(item.path)).parts
        if "backends" in parts:
            level = "contract" if item.path.name.startswith("test_contract") else "integration"
        else:
            level = next((part for part in parts if part in LEVELS), "unit")
        item.add_marker(getattr(pytest.mark, level))
        if level != "integration" and not OUTER_LOOP & {mark.name for mark in item.iter_markers()}:
            item.add_marker(pytest.mark.inner)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """How many fuzzed inputs each fuzz test tried (docs/RELIABILITY.md quotes these)."""
    from tests.fuzzing import TALLY

    if TALLY:
        terminalreporter.section("fuzzed inputs")
        for name, count in sorted(TALLY.items()):
            terminalreporter.write_line(f"{count:>7,}  {name}")

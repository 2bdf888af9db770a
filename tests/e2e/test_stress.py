"""Short versions of the stress scenarios (``tests/stress``) on every store that runs here:
writers killed, frozen and raced, ``doctor --fix`` beside them, and the two promises
(one champion, a history that replays) checked during and after. ``python -m tests.stress``
runs the full figures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.stress import scenarios
from tests.stress.scenarios import Outcome

TEMPLATE = "{timeframe}_trading_model"
# STAGEKEEPER_STRESS_SCALE multiplies the short version's sizes.
SCALE = float(os.environ.get("STAGEKEEPER_STRESS_SCALE", "1"))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def sql_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'stress.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgresql", marks=pytest.mark.postgres),
        pytest.param("mlflow-server", marks=pytest.mark.mlflow_server),
    ]
)
def store(request: pytest.FixtureRequest, tmp_path: Path, model_prefix: str) -> tuple[str, str]:
    """A store URL and a model-name template of the test's own."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'stress.db'}", TEMPLATE
    if request.param == "postgresql":
        return request.getfixturevalue("postgres_url"), TEMPLATE
    server: str = request.getfixturevalue("mlflow_server")
    return server.replace("http://", "mlflow+http://"), model_prefix + TEMPLATE


def _clean(outcome: Outcome) -> Outcome:
    assert outcome.violations == []
    assert outcome.gave_up == 0
    return outcome


@pytest.mark.slow
def test_eight_writers_keep_one_champion_and_a_history_that_replays(
    store: tuple[str, str],
) -> None:
    outcome = _clean(scenarios.concurrency(*store, processes=8, seconds=4 * SCALE))
    assert outcome.operations > 0 and outcome.checks >= 2


@pytest.mark.slow
def test_doctor_fix_beside_three_writers_records_nothing(store: tuple[str, str]) -> None:
    outcome = _clean(scenarios.doctor_beside_writers(*store, writers=3, seconds=4 * SCALE))
    assert outcome.doctor_runs > 0 and outcome.operations > 0


@pytest.mark.slow
def test_doctor_fix_beside_writers_on_embedded_mlflow_records_nothing(
    mlflow_sqlite_url: str, model_prefix: str
) -> None:
    url, template = mlflow_sqlite_url, model_prefix + TEMPLATE
    outcome = _clean(scenarios.doctor_beside_writers(url, template, writers=3, seconds=4 * SCALE))
    assert outcome.doctor_runs > 0 and outcome.operations > 0


def test_doctor_fix_beside_writer_threads_in_memory_records_nothing() -> None:
    outcome = _clean(scenarios.doctor_beside_threads("memory://", writers=3, seconds=2 * SCALE))
    assert outcome.doctor_runs > 0 and outcome.operations > 0


@pytest.mark.slow
def test_writers_killed_at_random_moments_leave_the_promises_whole(sql_url: str) -> None:
    outcome = _clean(scenarios.kills(sql_url, TEMPLATE, count=int(5 * SCALE)))
    assert outcome.operations > 0


@pytest.mark.slow
def test_a_frozen_writer_makes_the_next_wait_and_loses_nothing(sql_url: str) -> None:
    assert _clean(scenarios.sql_stalls(sql_url, TEMPLATE)).stalls == scenarios.STALL_POINTS

"""The model-based test of ``tests/unit/test_properties.py`` on a real PostgreSQL: the store and
a plain model of the specification, side by side, compared after every step."""

from __future__ import annotations

from typing import ClassVar

import pytest
from hypothesis import settings
from sqlalchemy import create_engine, text
from tests.unit.test_properties import RegistryModel

from stagekeeper import open_registry
from stagekeeper.service.registry import Registry


class PostgresModel(RegistryModel):
    url: ClassVar[str] = ""

    def open_store(self) -> Registry:
        registry = open_registry(self.url)  # creates the schema on first use
        engine = create_engine(self.url)
        with engine.begin() as connection:  # each run starts empty
            connection.execute(
                text(
                    "TRUNCATE stagekeeper_metrics, stagekeeper_policies, stagekeeper_changes, "
                    "stagekeeper_versions, stagekeeper_timeframes"
                )
            )
        engine.dispose()
        return registry


@pytest.fixture(autouse=True)
def _postgres(postgres_url: str) -> None:
    PostgresModel.url = postgres_url


TestPostgresAgreesWithTheModel = pytest.mark.postgres(PostgresModel.TestCase)
TestPostgresAgreesWithTheModel.settings = settings(
    max_examples=10, stateful_step_count=20, deadline=None
)

"""The model-based test of ``tests/unit/test_properties.py`` on an embedded MLflow registry: the
store and a plain model of the specification, side by side, compared after every step."""

from __future__ import annotations

import uuid
from typing import ClassVar

import pytest
from hypothesis import settings
from tests.unit.test_properties import RegistryModel

from stagekeeper import open_registry
from stagekeeper.service.registry import Registry


class MlflowModel(RegistryModel):
    url: ClassVar[str] = ""
    source = "s3://stagekeeper-properties/model"

    def open_store(self) -> Registry:
        # Each run gets models of its own in the session's registry.
        template = f"p{uuid.uuid4().hex[:10]}_{{timeframe}}_model"
        return open_registry(self.url, model_name_template=template)


@pytest.fixture(autouse=True)
def _mlflow(mlflow_sqlite_url: str) -> None:
    MlflowModel.url = mlflow_sqlite_url


TestMlflowAgreesWithTheModel = MlflowModel.TestCase
TestMlflowAgreesWithTheModel.settings = settings(
    max_examples=6, stateful_step_count=15, deadline=None
)

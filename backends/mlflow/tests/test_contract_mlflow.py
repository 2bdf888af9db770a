"""The MLflow store passes the backend contract, embedded and through a real server."""

from __future__ import annotations

import pytest

from stagekeeper import open_registry
from stagekeeper.testing.contract import RegistryContract, RegistryFactory


class MlflowContract(RegistryContract):
    @pytest.fixture
    def version_source(self) -> str:
        return "s3://stagekeeper-contract/model"  # MLflow checks the form, not the bucket


class TestEmbeddedMlflowStore(MlflowContract):
    @pytest.fixture
    def registry_factory(self, mlflow_sqlite_url: str, model_prefix: str) -> RegistryFactory:
        template = model_prefix + "{timeframe}_trading_model"
        return lambda: open_registry(
            mlflow_sqlite_url, actor="tester", model_name_template=template
        )


@pytest.mark.mlflow_server
class TestMlflowServerStore(MlflowContract):
    @pytest.fixture
    def registry_factory(self, mlflow_server: str, model_prefix: str) -> RegistryFactory:
        url = mlflow_server.replace("http://", "mlflow+http://")
        template = model_prefix + "{timeframe}_trading_model"
        return lambda: open_registry(url, actor="tester", model_name_template=template)

"""Fixtures for the MLflow store's own tests: each runs embedded and through a real server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from mlflow.tracking import MlflowClient

from stagekeeper import open_registry
from stagekeeper.service.registry import Registry


@pytest.fixture(params=["embedded", pytest.param("server", marks=pytest.mark.mlflow_server)])
def mlflow_url(request: pytest.FixtureRequest, mlflow_sqlite_url: str) -> str:
    """A stagekeeper store URL: the embedded registry, or the session's real server."""
    if request.param == "server":
        server: str = request.getfixturevalue("mlflow_server")
        return server.replace("http://", "mlflow+http://")
    return mlflow_sqlite_url


@pytest.fixture
def template(model_prefix: str) -> str:
    return model_prefix + "{timeframe}_trading_model"


@pytest.fixture
def registry(mlflow_url: str, template: str) -> Iterator[Registry]:
    with open_registry(mlflow_url, actor="tester", model_name_template=template) as registry:
        yield registry


@pytest.fixture
def client(mlflow_url: str) -> MlflowClient:
    """MLflow's own client on the same registry, for looking and for breaking things."""
    uri = mlflow_url.removeprefix("mlflow+")
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


@pytest.fixture
def cli_env(mlflow_url: str, template: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Environment for running the CLI against this test's models."""
    env = {"STAGEKEEPER_STORE": mlflow_url, "STAGEKEEPER_MODEL_NAME_TEMPLATE": template}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env

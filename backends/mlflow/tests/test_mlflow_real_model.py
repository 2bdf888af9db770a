"""A real model through a real server: logged by MLflow, promoted by the stagekeeper CLI,
loaded back by MLflow's own loader through the ``champion`` alias."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import mlflow
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

COMMAND = str(Path(sys.executable).parent / "stagekeeper")


@pytest.fixture
def tracking(mlflow_server: str) -> Iterator[str]:
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(mlflow_server)
    yield mlflow_server
    mlflow.set_tracking_uri(previous)


def stagekeeper(server: str, template: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "STAGEKEEPER_STORE": server.replace("http://", "mlflow+http://"),
        "STAGEKEEPER_MODEL_NAME_TEMPLATE": template,
    }
    return subprocess.run(
        [COMMAND, *args], env=env, capture_output=True, text=True, check=True, timeout=120
    )


def log_model(name: str, threshold: float) -> None:
    features = np.array([[0.0], [1.0], [2.0], [3.0]])
    model = LogisticRegression().fit(features, (features[:, 0] > threshold).astype(int))
    with mlflow.start_run():
        mlflow.sklearn.log_model(model, name="model", registered_model_name=name)


@pytest.mark.mlflow_server
def test_the_champion_alias_loads_the_promoted_model(tracking: str, model_prefix: str) -> None:
    template = model_prefix + "{timeframe}_trading_model"
    name = template.format(timeframe="1H")
    log_model(name, threshold=1.5)  # version 1 predicts 1 from 2 up
    log_model(name, threshold=0.5)  # version 2 predicts 1 from 1 up
    for version in ("2", "1"):
        stagekeeper(tracking, template, "promote", "--timeframe", "1H",
                    "--model-version", version, "--target-stage", "beta")  # fmt: skip
        stagekeeper(tracking, template, "promote", "--timeframe", "1H",
                    "--model-version", version, "--target-stage", "champion")  # fmt: skip
    champion = mlflow.pyfunc.load_model(f"models:/{name}@champion")
    assert list(champion.predict(np.array([[1.0], [2.0]]))) == [0, 1]  # version 1
    stagekeeper(tracking, template, "rollback", "--timeframe", "1H")
    restored = mlflow.pyfunc.load_model(f"models:/{name}@champion")
    assert list(restored.predict(np.array([[1.0], [2.0]]))) == [1, 1]  # version 2 again

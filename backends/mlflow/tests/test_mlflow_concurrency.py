"""Promoters in separate processes against one MLflow registry: one champion, for
stagekeeper and for MLflow alike."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from mlflow.tracking import MlflowClient

from stagekeeper import Stage
from stagekeeper.service.registry import Registry
from stagekeeper_mlflow.mapping import STAGE_TAG

COMMAND = str(Path(sys.executable).parent / "stagekeeper")
WRITERS = 5


def test_processes_crowning_at_once_leave_one_champion_everywhere(
    registry: Registry, client: MlflowClient, cli_env: dict[str, str]
) -> None:
    for number in range(1, WRITERS + 1):
        registry.register("1H", source=f"s3://models/{number}")
        registry.promote("1H", number, "beta")

    def crown(number: int) -> str:
        args = ["promote", "--timeframe", "1H", "--model-version", str(number)]
        return subprocess.run(
            [COMMAND, *args, "--target-stage", "champion"],
            capture_output=True, env=os.environ.copy(), timeout=300, text=True,
        ).stderr  # fmt: skip

    with ThreadPoolExecutor(WRITERS) as pool:
        assert list(pool.map(crown, range(1, WRITERS + 1))) == [""] * WRITERS

    name = registry.model_name("1H")
    [champion] = registry.list("1H", Stage.CHAMPION)
    alias = client.get_model_version_by_alias(name, "champion")
    tagged = client.search_model_versions(f"name='{name}' AND tags.`{STAGE_TAG}`='champion'")
    assert [int(v.version) for v in tagged] == [champion.version] == [int(alias.version)]
    crowned = [c for c in registry.history("1H") if c.to_stage is Stage.CHAMPION]
    assert len(crowned) == WRITERS
    assert len(registry.list("1H", Stage.ARCHIVED)) == WRITERS - 1
    assert registry.doctor() == []

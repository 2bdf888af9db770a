"""Promoters in separate processes against one MLflow registry: one champion, for
stagekeeper and for MLflow alike."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from stagekeeper import LockTimeout, Stage, open_registry
from stagekeeper.service.registry import Registry
from stagekeeper_mlflow.mapping import STAGE_TAG, WAITER_PREFIX

COMMAND = str(Path(sys.executable).parent / "stagekeeper")
WRITERS = 5
SOURCE = "s3://models/waiting"


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


def _waiting_on(client: MlflowClient, name: str) -> list[str]:
    tags = client.get_registered_model(name).tags or {}
    return [key for key in tags if key.startswith(WAITER_PREFIX)]


def test_a_writer_kept_waiting_is_handed_the_lock_before_its_holder_comes_back(
    registry: Registry, client: MlflowClient, mlflow_url: str, template: str
) -> None:
    """The holder lets go and at once wants the lock again, as a busy pipeline does: the
    writer that was waiting goes first, where creating the lock anew is a race that the
    one who just let go wins."""
    for number in (1, 2, 3):
        registry.register("1H", source=SOURCE)
        registry.promote("1H", number, "beta")
    registry.promote("1H", 1, "champion")
    name = registry.model_name("1H")

    def hold_until_someone_waits() -> None:
        deadline = time.monotonic() + 60
        with registry.store.lock(name).held() as lease:
            while not _waiting_on(client, name):
                assert time.monotonic() < deadline, "nobody waited for the lock"
                time.sleep(0.02)
            lease.hand_on_to(client.get_registered_model(name).tags or {})

    with (
        ThreadPoolExecutor(2) as pool,
        open_registry(mlflow_url, actor="waiter", model_name_template=template) as other,
    ):
        holding = pool.submit(hold_until_someone_waits)
        time.sleep(0.2)  # the holder has the lock
        waiting = pool.submit(other.promote, "1H", 2, Stage.CHAMPION)
        holding.result(timeout=60)
        registry.promote("1H", 3, Stage.CHAMPION)  # straight back for the lock
        waiting.result(timeout=60)

    crowned = [c.version for c in registry.history("1H") if c.to_stage is Stage.CHAMPION]
    assert crowned == [1, 2, 3]
    assert _waiting_on(client, name) == []  # the waiter withdrew once handed the lock
    assert registry.doctor() == []


def test_a_writer_that_gives_up_waiting_withdraws(
    registry: Registry, client: MlflowClient, mlflow_url: str, template: str
) -> None:
    registry.register("1H", source=SOURCE)
    name = registry.model_name("1H")
    with (
        registry.store.lock(name).held(),
        open_registry(
            mlflow_url, actor="impatient", model_name_template=template, lock_timeout=0.5
        ) as impatient,
    ):
        with pytest.raises(LockTimeout):
            impatient.promote("1H", 1, Stage.BETA)
        assert _waiting_on(client, name) == []
    registry.promote("1H", 1, Stage.BETA)  # the lock was let go, not handed to a leaver
    assert [v.version for v in registry.list("1H", Stage.BETA)] == [1]


def test_a_waiter_past_giving_up_is_not_handed_the_lock(
    registry: Registry, client: MlflowClient, mlflow_url: str, template: str
) -> None:
    """A waiter killed while waiting leaves its announcement behind; once its waiting time
    is over, holders let the lock go instead of handing it to nobody, and remove it."""
    registry.register("1H", source=SOURCE)
    name = registry.model_name("1H")
    client.set_registered_model_tag(name, f"{WAITER_PREFIX}gone", "1 2")
    registry.promote("1H", 1, Stage.BETA)
    with open_registry(
        mlflow_url, actor="next", model_name_template=template, lock_timeout=1
    ) as following:
        following.promote("1H", 1, Stage.CHAMPION)
    assert [v.version for v in registry.list("1H", Stage.CHAMPION)] == [1]
    assert _waiting_on(client, name) == []


@pytest.mark.parametrize("far", [False, True], ids=["near", "far"])
def test_a_champion_crowned_by_another_writer_is_the_one_a_promotion_archives(
    mlflow_url: str, template: str, far: bool
) -> None:
    """A store reads the champion it last saw beside the alias: a guess, which the alias
    overrules when another writer crowned since (near the candidate's number or far)."""
    rival_number = 25 if far else 4
    with (
        open_registry(mlflow_url, actor="ana", model_name_template=template) as ana,
        open_registry(mlflow_url, actor="ben", model_name_template=template) as ben,
    ):
        for number in range(1, rival_number + 1):
            ana.register("1H", source=f"s3://models/{number}")
        for number in (1, 2, rival_number):
            ana.promote("1H", number, Stage.BETA)
        ana.promote("1H", 1, Stage.CHAMPION)  # ana last saw v1 crowned
        ben.promote("1H", rival_number, Stage.CHAMPION)
        ana.promote("1H", 2, Stage.CHAMPION)
        stages = {v.version: v.stage for v in ana.list("1H") if v.stage is not Stage.DEVELOPMENT}
        assert stages == {1: Stage.ARCHIVED, 2: Stage.CHAMPION, rival_number: Stage.ARCHIVED}
        last = ana.history("1H")[-2:]
        assert {(c.version, c.from_stage, c.to_stage) for c in last} == {
            (2, Stage.BETA, Stage.CHAMPION),
            (rival_number, Stage.CHAMPION, Stage.ARCHIVED),
        }

"""``stagekeeper mlflow migrate-stages`` on a registry populated with legacy stages."""

from __future__ import annotations

import json

import pytest
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from stagekeeper import Stage
from stagekeeper.service.registry import Registry

runner = CliRunner()


@pytest.fixture
def legacy(registry: Registry, client: MlflowClient) -> str:
    """1H with versions in Production (two of them), Staging, None and Archived."""
    name = registry.model_name("1H")
    client.create_registered_model(name)
    stages = ["Production", "Staging", "None", "Archived", "Production"]
    for number, stage in enumerate(stages, start=1):
        client.create_model_version(name, f"s3://models/{number}")
        if stage != "None":  # the deprecated API, as the registry's old users did
            with pytest.warns(FutureWarning, match="deprecated"):
                client.transition_model_version_stage(name, str(number), stage)
    return name


def invoke(*args: str) -> tuple[int, dict[str, object]]:
    from stagekeeper.cli.app import app

    result = runner.invoke(app, ["mlflow", "migrate-stages", *args, "--json"])
    return result.exit_code, json.loads(result.stdout)


def stages(registry: Registry) -> dict[int, Stage]:
    return {v.version: v.stage for v in registry.list("1H")}


def test_two_production_versions_are_refused_without_a_winner(
    registry: Registry, legacy: str, cli_env: dict[str, str]
) -> None:
    code, answer = invoke("--timeframe", "1H")
    assert code == 1
    assert "champion candidates (v1, v5)" in str(answer["error"])
    assert set(stages(registry).values()) == {Stage.DEVELOPMENT}
    assert registry.history("1H") == []


def test_a_dry_run_prints_the_plan_and_changes_nothing(
    registry: Registry, legacy: str, cli_env: dict[str, str]
) -> None:
    code, answer = invoke("--timeframe", "1H", "--winner", "5", "--dry-run")
    assert code == 0
    data = answer["data"]
    assert isinstance(data, dict) and data["dry_run"] is True
    planned = {(c["version"], c["to_stage"]) for c in data["changes"]}
    assert planned == {(1, "archived"), (2, "beta"), (3, "development"), (4, "archived"),
                       (5, "champion")}  # fmt: skip
    assert set(stages(registry).values()) == {Stage.DEVELOPMENT}


def test_the_migration_maps_every_stage_and_is_recorded(
    registry: Registry, client: MlflowClient, legacy: str, cli_env: dict[str, str]
) -> None:
    code, _ = invoke("--timeframe", "1H", "--winner", "5")
    assert code == 0
    assert stages(registry) == {
        1: Stage.ARCHIVED,
        2: Stage.BETA,
        3: Stage.DEVELOPMENT,
        4: Stage.ARCHIVED,
        5: Stage.CHAMPION,
    }
    assert client.get_model_version_by_alias(legacy, "champion").version in (5, "5")
    migrated = [c for c in registry.history("1H") if c.cause.value == "migration"]
    assert {c.version for c in migrated} == {1, 2, 3, 4, 5}  # 3 recorded where it stands
    assert len({c.operation_id for c in migrated}) == 1
    assert invoke("--timeframe", "1H")[1] == {"data": {"dry_run": False, "changes": []}}
    assert registry.doctor() == []


def test_migration_needs_an_mlflow_store(tmp_path: object) -> None:
    from stagekeeper.cli.app import app

    result = runner.invoke(app, ["mlflow", "migrate-stages", "--store", "memory://"])
    assert result.exit_code == 2
    assert "MLflow stores" in result.stderr


def test_the_migration_commits_through_the_one_write_path(
    mlflow_url: str, template: str, legacy: str
) -> None:
    from stagekeeper import open_registry
    from stagekeeper.domain.model import Committed
    from stagekeeper_mlflow.migration import migrate_legacy_stages

    published: list[Committed] = []
    with open_registry(mlflow_url, model_name_template=template, publish=published.append) as reg:
        changes = migrate_legacy_stages(reg, "1H", winner=5, reason="off the old stages")
    [operation] = published
    assert operation.changes == tuple(changes)
    assert {c.cause.value for c in changes} == {"migration"}

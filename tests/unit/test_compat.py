"""Seed code runs with only its import changed: ``stagekeeper.compat.MLflowManager``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from stagekeeper import GateError, Stage, ValidationError
from stagekeeper.compat import MLflowManager


@pytest.fixture
def manager(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MLflowManager]:
    monkeypatch.setenv("STAGEKEEPER_STORE", f"sqlite:///{tmp_path / 'seed.db'}")
    manager = MLflowManager(timeframe="1H")
    for _ in range(2):
        manager.registry.register("1H")
    yield manager
    manager.close()


def test_the_seed_calls_promote_and_find(manager: MLflowManager) -> None:
    manager.promote_model(
        model_name="1H_trading_model",
        version="1",
        target_stage="beta",
        reason="Passed initial validation tests",
    )
    beta_models = manager.find_models_by_stage("beta", timeframe="1H")
    assert [(m.version, m.stage) for m in beta_models] == [(1, Stage.BETA)]
    assert manager.registry.history("1H", 1)[-1].reason == "Passed initial validation tests"


def test_a_champion_promotion_demotes_the_old_one(manager: MLflowManager) -> None:
    for version in ("1", "2"):
        manager.promote_model("1H_trading_model", version, "beta")
        manager.promote_model("1H_trading_model", version, "champion")
    assert [m.version for m in manager.find_models_by_stage("champion")] == [2]
    assert [m.version for m in manager.find_models_by_stage("archived")] == [1]


def test_a_model_name_of_another_timeframe_is_refused(manager: MLflowManager) -> None:
    with pytest.raises(ValidationError, match="expected '1H_trading_model'"):
        manager.promote_model(model_name="4H_trading_model", version="1", target_stage="beta")
    assert manager.find_models_by_stage("beta") == []


def test_the_store_can_be_named() -> None:
    manager = MLflowManager(timeframe="4H", store="memory://")
    manager.registry.register("4H")
    manager.promote_model("4H_trading_model", 1, Stage.BETA)
    assert len(manager.find_models_by_stage(Stage.BETA)) == 1
    manager.close()


def test_the_seed_call_is_held_to_the_stores_policy(manager: MLflowManager) -> None:
    manager.registry.set_policy({"beta": {"require": ["sharpe >= 1.0"]}})
    with pytest.raises(GateError, match="sharpe"):
        manager.promote_model("1H_trading_model", "1", "beta", reason="Passed validation")
    manager.registry.set_metrics("1H", 1, {"sharpe": 1.3})
    manager.promote_model("1H_trading_model", "1", "beta", reason="Passed validation")
    assert [m.version for m in manager.find_models_by_stage("beta")] == [1]

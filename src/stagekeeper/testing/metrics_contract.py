"""The contract's part on metrics: recorded with a version or later, each replaced value a
change in the history. ``RegistryContract`` includes it."""

from __future__ import annotations

import time
from typing import Any

import pytest

from stagekeeper.domain.errors import (
    NotFoundError,
    ValidationError,
)
from stagekeeper.domain.stages import Cause, Stage
from stagekeeper.service.registry import Registry
from stagekeeper.testing.base import ContractBase, snapshot

SHARPE_POLICY: dict[str, Any] = {"champion": {"require": ["sharpe >= 1.0"]}}


class MetricsContract(ContractBase):
    """Metrics on versions (the store's metrics role)."""

    # -- metrics ------------------------------------------------------------------------

    def test_metrics_given_at_registration_are_read_back(self, registry: Registry) -> None:
        version = self.new(registry, metrics={"sharpe": 1.42, "max_drawdown": "0.18"})
        assert registry.metrics("1H", version.version) == {"sharpe": 1.42, "max_drawdown": 0.18}
        [registered] = registry.history("1H")
        assert registered.detail == "max_drawdown=0.18, sharpe=1.42"

    def test_a_replaced_metric_is_recorded_in_the_history(self, registry: Registry) -> None:
        version = self.new(registry, metrics={"sharpe": 1.3})
        [change] = registry.set_metrics(
            "1H", version.version, {"sharpe": 1.5, "sortino": 2}, reason="re-run", actor="ann"
        )
        assert registry.metrics("1H", version.version) == {"sharpe": 1.5, "sortino": 2.0}
        assert change.cause is Cause.METRICS
        assert change.from_stage is change.to_stage is Stage.DEVELOPMENT
        assert (change.actor, change.reason) == ("ann", "re-run")
        assert change.detail == "sharpe=1.5 (was 1.3), sortino=2"
        assert registry.history("1H")[-1] == change
        assert registry.get("1H", version.version).updated_at == version.updated_at  # no move

    def test_setting_a_value_already_recorded_changes_nothing(self, registry: Registry) -> None:
        version = self.new(registry, metrics={"sharpe": 1.3})
        before = snapshot(registry)
        assert registry.set_metrics("1H", version.version, {"sharpe": 1.3}) == []
        assert snapshot(registry) == before

    def test_metrics_of_an_unknown_version_are_refused(self, registry: Registry) -> None:
        self.new(registry)
        before = snapshot(registry)
        with pytest.raises(NotFoundError):
            registry.set_metrics("1H", 9, {"sharpe": 1.0})
        with pytest.raises(NotFoundError):
            registry.metrics("1H", 9)
        with pytest.raises(ValidationError):
            registry.set_metrics("1H", 1, {"sharpe": "high"})
        assert snapshot(registry) == before

    def test_recording_metrics_does_not_restart_the_soak(self, registry: Registry) -> None:
        registry.set_policy({"champion": {"soak": "1s"}})
        candidate = self.in_beta(registry, sharpe=1.0)
        time.sleep(1.05)
        registry.set_metrics("1H", candidate.version, {"sharpe": 1.1})  # not a move
        registry.promote("1H", candidate.version, Stage.CHAMPION)
        assert registry.champion("1H") == registry.get("1H", candidate.version)

    # -- policies -----------------------------------------------------------------------

"""What every part of the contract suite shares: the fixtures a backend provides, and
helpers to make versions. See ``stagekeeper.testing.contract``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from stagekeeper.domain.model import ModelVersion, StageChange
from stagekeeper.domain.stages import Stage
from stagekeeper.service.registry import Registry

RegistryFactory = Callable[[], Registry]


def stages_of(registry: Registry, timeframe: str = "1H") -> dict[int, Stage]:
    return {v.version: v.stage for v in registry.list(timeframe)}


def snapshot(registry: Registry) -> tuple[list[ModelVersion], list[StageChange]]:
    return registry.list(), registry.history()


class ContractBase:
    """The fixtures and helpers of the contract's test classes."""

    @pytest.fixture
    def registry_factory(self) -> RegistryFactory:
        raise NotImplementedError("a backend's test class provides registry_factory")

    @pytest.fixture
    def version_source(self) -> str | None:
        """Where registered versions say the model lives; ``None`` if the store allows."""
        return None

    @pytest.fixture(autouse=True)
    def _remember_source(self, version_source: str | None) -> None:
        self.source = version_source

    @pytest.fixture
    def registry(self, registry_factory: RegistryFactory) -> Iterator[Registry]:
        with registry_factory() as registry:
            yield registry

    def new(self, registry: Registry, timeframe: str = "1H", **kwargs: Any) -> ModelVersion:
        """Register a version with the store's source."""
        return registry.register(timeframe, source=self.source, **kwargs)

    def in_beta(self, registry: Registry, **metrics: float) -> ModelVersion:
        version = self.new(registry, metrics=metrics)
        registry.promote("1H", version.version, Stage.BETA)
        return registry.get("1H", version.version)

    def _with_champion(self, registry: Registry, timeframe: str = "1H") -> ModelVersion:
        version = self.new(registry, timeframe)
        registry.promote(timeframe, version.version, Stage.BETA)
        registry.promote(timeframe, version.version, Stage.CHAMPION)
        return registry.get(timeframe, version.version)

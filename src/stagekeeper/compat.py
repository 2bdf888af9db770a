"""Drop-in replacement for the seed's ``MLflowManager``, so seed code needs only a new import.

    from stagekeeper.compat import MLflowManager
    manager = MLflowManager(timeframe="1H")
    manager.promote_model(model_name="1H_trading_model", version="1", target_stage="beta")

Calls go through the same service as the CLI. ``store=None`` means ``STAGEKEEPER_STORE``,
else the default store.
"""

from __future__ import annotations

from stagekeeper.bootstrap import open_registry
from stagekeeper.domain import validation
from stagekeeper.domain.errors import ValidationError
from stagekeeper.domain.model import ModelVersion, StageChange
from stagekeeper.domain.stages import Stage
from stagekeeper.service.registry import Registry


class MLflowManager:
    """The seed's programmatic API, backed by a stagekeeper registry."""

    def __init__(
        self, timeframe: str = "1H", store: str | None = None, registry: Registry | None = None
    ) -> None:
        self.timeframe = validation.timeframe(timeframe)
        self.registry = registry or open_registry(store)

    def promote_model(
        self,
        model_name: str,
        version: int | str,
        target_stage: Stage | str,
        reason: str | None = None,
    ) -> list[StageChange]:
        """Move ``version`` of ``model_name`` to ``target_stage``; returns the changes made."""
        expected = self.registry.model_name(self.timeframe)
        if model_name != expected:
            raise ValidationError(
                f"model name {model_name!r} does not match timeframe {self.timeframe}: "
                f"expected {expected!r}"
            )
        return self.registry.promote(self.timeframe, version, target_stage, reason=reason)

    def find_models_by_stage(
        self, stage: Stage | str, timeframe: str | None = None
    ) -> list[ModelVersion]:
        """Versions of ``timeframe`` (default: this manager's) in ``stage``."""
        return self.registry.list(timeframe or self.timeframe, stage)

    def close(self) -> None:
        self.registry.close()

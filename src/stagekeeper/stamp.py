"""What every change of one operation shares: reason, actor, time and operation id.

Imports only the domain.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from stagekeeper.model import ModelVersion, StageChange
from stagekeeper.stages import Cause, Stage


def utc_now() -> datetime:
    return datetime.now(UTC)


def new_operation_id() -> str:
    return uuid.uuid4().hex


class Stamp:
    """What every change of one operation shares: reason, actor, time and operation id."""

    def __init__(self, reason: str | None, actor: str, at: datetime, operation_id: str) -> None:
        self.reason, self.actor, self.at, self.operation_id = reason, actor, at, operation_id

    def change(self, version: ModelVersion, target: Stage, cause: Cause) -> StageChange:
        return StageChange(
            operation_id=self.operation_id,
            timeframe=version.timeframe,
            model_name=version.model_name,
            version=version.version,
            from_stage=version.stage,
            to_stage=target,
            reason=self.reason,
            actor=self.actor,
            at=self.at,
            cause=cause,
        )

"""stagekeeper: move model versions safely from experiment to production.

>>> from stagekeeper import open_registry
>>> reg = open_registry("memory://")
>>> reg.register("1H").version
1

The names below load on first use (PEP 562), so that a command such as ``stagekeeper
--help`` does not pay for the service and the domain it never touches.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from stagekeeper.bootstrap import open_registry
    from stagekeeper.domain.approvals import ApprovalRequest
    from stagekeeper.domain.conditions import GateResult
    from stagekeeper.domain.errors import (
        BackendError,
        ConcurrentUpdateError,
        ConflictError,
        DamagedStore,
        ForbiddenError,
        GateError,
        LockLost,
        LockTimeout,
        NotFoundError,
        SchemaMismatch,
        StagekeeperError,
        StoreUnreachable,
        TransitionError,
        UnsupportedStore,
        ValidationError,
    )
    from stagekeeper.domain.model import ModelVersion, StageChange, TimeframeStatus
    from stagekeeper.domain.policy import Policy
    from stagekeeper.domain.stages import Cause, Stage
    from stagekeeper.service.registry import Registry

_EXPORTS = {
    "ApprovalRequest": "stagekeeper.domain.approvals",
    "BackendError": "stagekeeper.domain.errors",
    "Cause": "stagekeeper.domain.stages",
    "ConcurrentUpdateError": "stagekeeper.domain.errors",
    "ConflictError": "stagekeeper.domain.errors",
    "DamagedStore": "stagekeeper.domain.errors",
    "ForbiddenError": "stagekeeper.domain.errors",
    "GateError": "stagekeeper.domain.errors",
    "GateResult": "stagekeeper.domain.conditions",
    "LockLost": "stagekeeper.domain.errors",
    "LockTimeout": "stagekeeper.domain.errors",
    "ModelVersion": "stagekeeper.domain.model",
    "NotFoundError": "stagekeeper.domain.errors",
    "Policy": "stagekeeper.domain.policy",
    "Registry": "stagekeeper.service.registry",
    "SchemaMismatch": "stagekeeper.domain.errors",
    "Stage": "stagekeeper.domain.stages",
    "StageChange": "stagekeeper.domain.model",
    "StagekeeperError": "stagekeeper.domain.errors",
    "StoreUnreachable": "stagekeeper.domain.errors",
    "TimeframeStatus": "stagekeeper.domain.model",
    "TransitionError": "stagekeeper.domain.errors",
    "UnsupportedStore": "stagekeeper.domain.errors",
    "ValidationError": "stagekeeper.domain.errors",
    "open_registry": "stagekeeper.bootstrap",
}

__all__ = [
    "ApprovalRequest",
    "BackendError",
    "Cause",
    "ConcurrentUpdateError",
    "ConflictError",
    "DamagedStore",
    "ForbiddenError",
    "GateError",
    "GateResult",
    "LockLost",
    "LockTimeout",
    "ModelVersion",
    "NotFoundError",
    "Policy",
    "Registry",
    "SchemaMismatch",
    "Stage",
    "StageChange",
    "StagekeeperError",
    "StoreUnreachable",
    "TimeframeStatus",
    "TransitionError",
    "UnsupportedStore",
    "ValidationError",
    "open_registry",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'stagekeeper' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])

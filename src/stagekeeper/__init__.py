"""stagekeeper: move model versions safely from experiment to production.

>>> from stagekeeper import open_registry
>>> reg = open_registry("memory://")
>>> reg.register("1H").version
1
"""

from stagekeeper.bootstrap import open_registry
from stagekeeper.domain.errors import (
    BackendError,
    ConcurrentUpdateError,
    ConflictError,
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
from stagekeeper.domain.stages import Cause, Stage
from stagekeeper.service.registry import Registry

__all__ = [
    "BackendError",
    "Cause",
    "ConcurrentUpdateError",
    "ConflictError",
    "LockLost",
    "LockTimeout",
    "ModelVersion",
    "NotFoundError",
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

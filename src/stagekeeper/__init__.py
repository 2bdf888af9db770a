"""stagekeeper: move model versions safely from experiment to production.

>>> from stagekeeper import open_registry
>>> reg = open_registry("memory://")
>>> reg.register("1H").version
1
"""

from stagekeeper.api import open_registry
from stagekeeper.errors import (
    BackendError,
    ConcurrentUpdateError,
    ConflictError,
    NotFoundError,
    SchemaMismatch,
    StagekeeperError,
    StoreUnreachable,
    TransitionError,
    UnsupportedStore,
    ValidationError,
)
from stagekeeper.model import ModelVersion, StageChange, TimeframeStatus
from stagekeeper.service import Registry
from stagekeeper.stages import Cause, Stage

__all__ = [
    "BackendError",
    "Cause",
    "ConcurrentUpdateError",
    "ConflictError",
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

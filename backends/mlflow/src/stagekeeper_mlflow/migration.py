"""The move off MLflow's deprecated stages, as a use case of this backend.

It plans with ``legacy.plan_migration`` (pure) and commits through the registry's one write
path, like every other write. Every timeframe is planned before any is changed, so a
refusal changes nothing.
"""

from __future__ import annotations

from stagekeeper.domain import validation
from stagekeeper.domain.errors import ValidationError
from stagekeeper.domain.model import Plan, StageChange
from stagekeeper.service.ports import Planned, Planner, TimeframeView
from stagekeeper.service.registry import Registry
from stagekeeper_mlflow import legacy
from stagekeeper_mlflow.store import MlflowStore


def migrate_legacy_stages(
    registry: Registry,
    timeframe: str | None = None,
    *,
    winner: int | str | None = None,
    dry_run: bool = False,
    reason: str | None = None,
    actor: str | None = None,
) -> list[StageChange]:
    """Map MLflow's deprecated stages into stagekeeper's; see ``stagekeeper_mlflow.legacy``.

    Returns the changes made, or with ``dry_run`` the changes that would be made.
    """
    store = registry.store
    if not isinstance(store, MlflowStore):
        raise ValidationError("this store has no legacy stages: migration is for MLflow stores")
    only = None if timeframe is None else validation.timeframe(timeframe)
    chosen = validation.optional_version(winner, what="winner")
    context = registry.context(reason, actor)
    timeframes = [only] if only else sorted({v.timeframe for v in store.versions()})
    if chosen is not None and len(timeframes) != 1:
        raise ValidationError("--winner needs --timeframe: it names one version of one model")
    plans = [_planned(store, tf, chosen, context.change) for tf in timeframes]
    if not dry_run:
        for plan in plans:
            if plan.changes:  # checked under the lock: refused if a writer moved a version
                registry.commit(Planned(plan.timeframe, _as_planned(plan)))
    return [change for plan in plans for change in plan.changes]


def _planned(store: MlflowStore, timeframe: str, winner: int | None, change: legacy.Change) -> Plan:
    versions = {v.version: v for v in store.versions(timeframe)}
    stages = store.legacy_stages(timeframe)
    unrecorded = frozenset(stages) - {c.version for c in store.history(timeframe)}
    return legacy.plan_migration(timeframe, versions, stages, winner, change, unrecorded)


def _as_planned(plan: Plan) -> Planner:
    """A plan made before the lock, for the write path to check under it."""

    def planner(_view: TimeframeView) -> Plan:
        return plan

    return planner

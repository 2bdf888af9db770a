"""The ``doctor`` use case: find where a store disagrees with itself, and repair it.

Two kinds of finding. A store's own (``SelfRepairing``: MLflow's alias against its tags, a
lock left behind) is repaired by the store itself; those repairs fix the representation and
are no operation of their own. A history drift, a version that stands elsewhere than its
history last moved it, is repaired by recording the move (cause ``repair``) through the one
write path, so it is checked, committed under the store's lock and published like any
other operation. Imports the domain and the ports, never a backend.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from stagekeeper.domain.doctor import drift_finding, history_drift
from stagekeeper.domain.errors import ConcurrentUpdateError
from stagekeeper.domain.model import Finding, ModelVersion, Plan, StageChange
from stagekeeper.domain.stages import Cause
from stagekeeper.service.ports import ModelStore, SelfRepairing

if TYPE_CHECKING:
    from stagekeeper.service.registry import Registry

DRIFT_REASON = "doctor: the stage was changed outside stagekeeper"


def examine(registry: Registry, timeframe: str | None, *, fix: bool) -> list[Finding]:
    """The store's own checks first (repaired first too, since finishing an interrupted
    operation can resolve a drift), then the history drift that every store can show.
    The drifts of one timeframe are repaired as one operation.
    """
    store = registry.store
    findings = _store_findings(store, timeframe, fix)
    drifted: dict[str, list[tuple[ModelVersion, StageChange]]] = {}
    for version, latest in history_drift(store.versions(timeframe), store.history(timeframe)):
        drifted.setdefault(version.timeframe, []).append((version, latest))
    for drifts in drifted.values():
        repaired = fix and _record_repairs(registry, drifts)
        findings += [
            dataclasses.replace(drift_finding(v, latest), fixed=repaired) for v, latest in drifts
        ]
    return findings


def _record_repairs(registry: Registry, drifts: list[tuple[ModelVersion, StageChange]]) -> bool:
    """Record each drifted version's move; ``False`` if a writer moved one meanwhile."""
    context = registry.context(DRIFT_REASON)
    moves = tuple(
        context.change(dataclasses.replace(v, stage=latest.to_stage), v.stage, Cause.REPAIR)
        for v, latest in drifts
    )
    plan = Plan(drifts[0][0].timeframe, None, moves, records_only=True)
    try:
        registry.commit(plan)
    except ConcurrentUpdateError:
        return False
    return True


def _store_findings(store: ModelStore, timeframe: str | None, fix: bool) -> list[Finding]:
    if not isinstance(store, SelfRepairing):
        return []
    findings = store.diagnose(timeframe)
    if not fix:
        return findings
    for finding in findings:
        if finding.remedy:
            store.repair(finding)
    return [dataclasses.replace(f, fixed=bool(f.remedy)) for f in findings]

"""The maintenance use cases: ``doctor`` and the migration from MLflow's legacy stages.

Called through ``Registry``; like the service, they plan with domain functions and write
through the ports only. Imports the domain and the ports, never a backend.
"""

from __future__ import annotations

import dataclasses

from stagekeeper import legacy
from stagekeeper.doctor import drift_finding, history_drift
from stagekeeper.errors import ValidationError
from stagekeeper.model import Finding, StageChange
from stagekeeper.ports import LegacyStages, ModelStore, SelfRepairing
from stagekeeper.stages import Cause
from stagekeeper.stamp import Stamp

DRIFT_REASON = "doctor: the stage was changed outside stagekeeper"


def examine(store: ModelStore, timeframe: str | None, stamp: Stamp, *, fix: bool) -> list[Finding]:
    """The store's own checks first (repaired first too, since finishing an interrupted
    operation can resolve a drift), then the history drift that every store can show.
    A drift is repaired by recording the move in the history, cause ``repair``: one
    operation, recorded once per timeframe.
    """
    findings = _store_findings(store, timeframe, fix)
    repairs: dict[str, list[StageChange]] = {}
    for version, latest in history_drift(store.versions(timeframe), store.history(timeframe)):
        finding = drift_finding(version, latest)
        if fix:
            as_recorded = dataclasses.replace(version, stage=latest.to_stage)
            move = stamp.change(as_recorded, version.stage, Cause.REPAIR)
            repairs.setdefault(version.timeframe, []).append(move)
            finding = dataclasses.replace(finding, fixed=True)
        findings.append(finding)
    for moves in repairs.values():
        store.record(moves)
    return findings


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


def migrate(
    store: ModelStore,
    timeframe: str | None,
    winner: int | None,
    stamp: Stamp,
    *,
    dry_run: bool,
) -> list[StageChange]:
    """Plan every timeframe, then (unless ``dry_run``) apply the plans one by one."""
    if not isinstance(store, LegacyStages):
        raise ValidationError("this store has no legacy stages: migration is for MLflow stores")
    timeframes = [timeframe] if timeframe else sorted({v.timeframe for v in store.versions()})
    if winner is not None and len(timeframes) != 1:
        raise ValidationError("--winner needs --timeframe: it names one version of one model")
    plans = [
        legacy.plan_migration(
            tf,
            {v.version: v for v in store.versions(tf)},
            store.legacy_stages(tf),
            winner,
            stamp.change,
        )
        for tf in timeframes
    ]
    if not dry_run:
        for plan in plans:
            if plan.changes:
                store.apply(plan)
    return [change for plan in plans for change in plan.changes]

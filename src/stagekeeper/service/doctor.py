"""The ``doctor`` use case: find where a store disagrees with itself, and repair it.

Two kinds of finding. A store's own (``SelfRepairing``: MLflow's alias against its tags, a
lock left behind) is looked for and repaired by the store itself, under the timeframe's
write lock; those repairs fix the representation and are no operation of their own. A
history drift, a version that stands elsewhere than its history last moved it, is repaired
by recording the move (cause ``repair``) through the one write path, so it is checked,
committed under the store's lock and published like any other operation.
Imports the domain and the ports, never a backend.
"""

from __future__ import annotations

import dataclasses

from stagekeeper.domain.doctor import (
    OPERATION_IN_PROGRESS,
    UNSETTLED,
    drift_finding,
    history_drift,
    several_champions,
    unrecorded,
    unrecorded_finding,
)
from stagekeeper.domain.errors import LockTimeout
from stagekeeper.domain.model import Finding, Plan
from stagekeeper.domain.stages import Cause
from stagekeeper.service.ports import ModelStore, Planned, SelfRepairing, TimeframeView
from stagekeeper.service.writing import WritePath

DRIFT_REASON = "doctor: the stage was changed outside stagekeeper"
UNRECORDED_DETAIL = "no entry in the history: recorded as found"


def examine(path: WritePath, timeframe: str | None, *, fix: bool) -> list[Finding]:
    """The store's own checks first (repaired first too, since finishing an interrupted
    operation can resolve a drift), then what every store can show: history drift,
    versions the history never mentions, and more than one champion.

    Drift is looked for under each timeframe's write lock, as writers take it, so that an
    operation in progress is never mistaken for drift; the drifts of one timeframe are
    repaired as one operation, in the same locked step.
    """
    store = path.store
    findings = _store_findings(store, timeframe, fix)
    timeframes = [timeframe] if timeframe else sorted({v.timeframe for v in store.versions()})
    unsettled = {f.timeframe for f in findings if f.code in UNSETTLED and not f.fixed}
    for name in timeframes:
        findings += [] if name in unsettled else _drift(path, name, fix)
    return findings


def _drift(path: WritePath, timeframe: str, fix: bool) -> list[Finding]:
    found: list[Finding] = []

    def plan(view: TimeframeView) -> Plan | None:
        versions, history = view.versions(), view.history()
        crowded = several_champions(versions)
        if crowded is not None:  # nothing is recorded until one champion is left
            found[:] = [crowded]
            return None
        drifts = history_drift(versions, history)
        missing = unrecorded(versions, history)
        found[:] = [
            dataclasses.replace(finding, fixed=fix)
            for finding in [drift_finding(v, c) for v, c in drifts]
            + [unrecorded_finding(v) for v in missing]
        ]
        if not (fix and found):
            return None
        context = path.context(DRIFT_REASON)
        moves = [
            dataclasses.replace(context.change(v, v.stage, Cause.REPAIR), from_stage=c.to_stage)
            for v, c in drifts
        ]
        moves += [
            dataclasses.replace(
                context.change(v, v.stage, Cause.REPAIR), from_stage=None, detail=UNRECORDED_DETAIL
            )
            for v in missing
        ]
        return Plan(timeframe, None, tuple(moves), records_only=True)

    try:
        path.commit(Planned(timeframe, plan))
    except LockTimeout as exc:  # a writer is at work: that is no drift, and not ours to fix
        return [Finding(timeframe, None, OPERATION_IN_PROGRESS, exc.message, remedy="")]
    return found


def _store_findings(store: ModelStore, timeframe: str | None, fix: bool) -> list[Finding]:
    if not isinstance(store, SelfRepairing):
        return []
    return store.examine(timeframe, fix=fix)

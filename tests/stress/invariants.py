"""The two promises, checked from outside the way a user would check them.

1. At most one champion per timeframe, at every moment.
2. The history says exactly what happened, in order: folding each version's changes in
   history order leads every change from where the previous one left the version, and
   ends where the version stands. This holds whenever no write is in progress.
"""

from __future__ import annotations

from collections import Counter

from stagekeeper import Stage
from stagekeeper.domain.doctor import OPERATION_IN_PROGRESS
from stagekeeper.service.registry import Registry


def violations(registry: Registry, *, settled: bool) -> list[str]:
    """What breaks the promises now. ``settled``: no writer is at work, so the history
    must replay exactly and ``doctor`` must find nothing at all; otherwise ``doctor`` may
    only report a writer at work, never drift."""
    found = _champions(registry)
    if settled:
        found += _replay(registry)
    for finding in registry.doctor():
        if settled or finding.code != OPERATION_IN_PROGRESS:
            found.append(f"doctor: {finding.code}: {finding.message}")
    return found


def _champions(registry: Registry) -> list[str]:
    crowned = Counter(v.timeframe for v in registry.list(stage=Stage.CHAMPION))
    return [f"{tf}: {n} champions" for tf, n in crowned.items() if n > 1]


def _replay(registry: Registry) -> list[str]:
    found = []
    replayed: dict[tuple[str, int], Stage] = {}
    for change in registry.history():
        key = (change.timeframe, change.version)
        before = replayed.get(key, change.from_stage)
        if before is not change.from_stage:
            found.append(
                f"{change.timeframe} v{change.version}: history moves it from "
                f"{change.from_stage} but it stood at {before} (operation {change.operation_id})"
            )
        replayed[key] = change.to_stage
    stages = {(v.timeframe, v.version): v.stage for v in registry.list()}
    for key in sorted(set(stages) | set(replayed)):
        if key in replayed and stages.get(key) is not replayed[key]:
            found.append(f"{key[0]} v{key[1]} is {stages.get(key)}, history says {replayed[key]}")
    return found

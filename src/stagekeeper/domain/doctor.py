"""Checks that every store answers to: does each version's stage match its history?

Pure functions over domain objects; the service runs them after the store's own checks.
"""

from __future__ import annotations

from collections.abc import Iterable

from stagekeeper.domain.model import Finding, StageChange, VersionState
from stagekeeper.domain.stages import Stage

HISTORY_DRIFT = "history-drift"
# A version the history never mentions: no registration, so no event and no reign of it.
UNRECORDED_VERSION = "unrecorded-version"
# More than one champion in a timeframe: never a state to record, whoever made it.
SEVERAL_CHAMPIONS = "several-champions"
# A writer holds the timeframe's lock: its operation is not drift, and not doctor's to fix.
OPERATION_IN_PROGRESS = "operation-in-progress"
# A writer died holding the lock: its operation is half done until it is finished or
# dropped, so the timeframe's drift is only worth reading after ``doctor --fix``.
INTERRUPTED_OPERATION = "interrupted-operation"
# A writer that lost its lock (frozen past its lease) may have landed one write after the
# next writer took over: the store is repaired toward the history, not the other way.
STALE_WRITE = "stale-write"
# A history record that cannot be read: what it said is lost, so drift cannot be judged.
DAMAGED_HISTORY = "damaged-history"
# Findings after which a timeframe's drift is not looked for.
UNSETTLED = frozenset({OPERATION_IN_PROGRESS, INTERRUPTED_OPERATION, STALE_WRITE, DAMAGED_HISTORY})


def history_drift(
    versions: Iterable[VersionState], history: Iterable[StageChange]
) -> list[tuple[VersionState, StageChange]]:
    """Versions whose stage is not where their last recorded change left them, each with
    that change. A version with no history at all is not drift, but ``unrecorded``.
    """
    last: dict[tuple[str, int], StageChange] = {}
    for change in history:
        last[(change.timeframe, change.version)] = change
    drifted = []
    for version in versions:
        latest = last.get((version.timeframe, version.version))
        if latest is not None and latest.to_stage is not version.stage:
            drifted.append((version, latest))
    return drifted


def drift_finding(version: VersionState, latest: StageChange) -> Finding:
    return Finding(
        timeframe=version.timeframe,
        version=version.version,
        code=HISTORY_DRIFT,
        message=(
            f"{version.model_name} v{version.version} is {version.stage.value}, but its "
            f"history last moved it to {latest.to_stage.value} (changed outside stagekeeper?)"
        ),
        remedy=f"record the move to {version.stage.value} in the history (cause repair)",
    )


def unrecorded(
    versions: Iterable[VersionState], history: Iterable[StageChange]
) -> list[VersionState]:
    """Versions the history never mentions (registered outside stagekeeper, or their
    entries deleted by hand)."""
    mentioned = {(change.timeframe, change.version) for change in history}
    return [v for v in versions if (v.timeframe, v.version) not in mentioned]


def unrecorded_finding(version: VersionState) -> Finding:
    return Finding(
        timeframe=version.timeframe,
        version=version.version,
        code=UNRECORDED_VERSION,
        message=(
            f"{version.model_name} v{version.version} is {version.stage.value}, but the "
            "history has no entry of it (registered outside stagekeeper, or its entries "
            "deleted): no event and no timeline shows it"
        ),
        remedy=f"record it in the history as found, {version.stage.value} (cause repair)",
    )


def several_champions(versions: Iterable[VersionState]) -> Finding | None:
    """A finding if more than one version stands in champion; never fixed by recording."""
    crowned = [v for v in versions if v.stage is Stage.CHAMPION]
    if len(crowned) < 2:
        return None
    numbers = ", ".join(f"v{v.version}" for v in crowned)
    return Finding(
        timeframe=crowned[0].timeframe,
        version=None,
        code=SEVERAL_CHAMPIONS,
        message=(
            f"{crowned[0].model_name} has {len(crowned)} champions ({numbers}): a state no "
            "promotion makes, changed outside stagekeeper (on SQL, the one-champion index "
            "must be missing)"
        ),
        remedy="",  # which one reigns is a person's call, not a repair's
    )

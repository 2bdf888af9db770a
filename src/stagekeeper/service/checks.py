"""The write path's checks, run on every plan under the timeframe's lock.

Imports the domain and the ports.
"""

from __future__ import annotations

from stagekeeper.domain.errors import ConcurrentUpdateError
from stagekeeper.domain.model import Plan, Seen, VersionState
from stagekeeper.domain.stages import REQUESTED_MOVES, Cause, Stage
from stagekeeper.service.ports import TimeframeView


def check_lifecycle(plan: Plan, view: TimeframeView) -> None:
    """Every promotion and rollback in the plan is a move the lifecycle allows."""
    from stagekeeper.domain import lifecycle  # the state machine: writes need it, reads not

    for change in plan.changes:
        if change.from_stage is None or change.cause not in REQUESTED_MOVES:
            continue
        restoring = change.cause is Cause.ROLLBACK and change.to_stage is Stage.CHAMPION
        lifecycle.check_move(
            change.from_stage,
            change.to_stage,
            rollback=restoring,
            was_champion=restoring and view.was_champion(change.version),
            subject=f"version {change.version} of {change.model_name}",
        )


def check_preconditions(plan: Plan, view: TimeframeView) -> None:
    """The plan still holds against the timeframe as the lock shows it."""
    stages = {n: found.stage for n in plan.versions if (found := view.get(n)) is not None}
    champion = view.champion() if plan.checks_champion else None
    violation = plan.violation(Seen(stages, number_of(champion)))
    if violation:
        raise ConcurrentUpdateError(f"{violation}; try again")


def number_of(version: VersionState | None) -> int | None:
    return None if version is None else version.version

"""Planning the move from MLflow's deprecated stages to stagekeeper's, as pure functions.

| legacy stage | stagekeeper stage |
|---|---|
| Production | champion |
| Staging | beta |
| None | development |
| Archived | archived |

Only versions stagekeeper does not manage yet are mapped. More than one candidate for
champion (several Production versions, or one beside a champion stagekeeper already has)
is refused unless the caller names the winner; the others are archived.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping

from stagekeeper.domain.errors import ConflictError, ValidationError
from stagekeeper.domain.model import ModelVersion, Plan, StageChange
from stagekeeper.domain.stages import Cause, Stage

LEGACY_STAGES: dict[str, Stage] = {
    "Production": Stage.CHAMPION,
    "Staging": Stage.BETA,
    "None": Stage.DEVELOPMENT,
    "Archived": Stage.ARCHIVED,
}

Change = Callable[[ModelVersion, Stage, Cause], StageChange]


def plan_migration(
    timeframe: str,
    versions: Mapping[int, ModelVersion],
    legacy: Mapping[int, str],
    winner: int | None,
    change: Change,
    unrecorded: frozenset[int] = frozenset(),
) -> Plan:
    """The changes that bring ``legacy`` (version -> legacy stage) into stagekeeper. Of the
    ``unrecorded`` versions (none in the history yet), those that stay where they stand
    (``None`` maps to development, where an unmanaged version already reads) are recorded
    as found, from nowhere, so that the history, the events and ``doctor`` know every
    version the migration took over."""
    targets = {number: _mapped(stage) for number, stage in legacy.items()}
    champion = next((v for v in versions.values() if v.stage is Stage.CHAMPION), None)
    candidates = sorted(
        {n for n, stage in targets.items() if stage is Stage.CHAMPION}
        | ({champion.version} if champion else set())
    )
    crowned = _choose(timeframe, candidates, winner)
    for number in candidates:
        targets[number] = Stage.CHAMPION if number == crowned else Stage.ARCHIVED
    moves = [
        change(versions[number], target, Cause.MIGRATION)
        for number, target in sorted(targets.items())
        if versions[number].stage is not target
    ]
    # Demotions first, so that no reader of the history sees two champions.
    moves.sort(key=lambda c: c.to_stage is Stage.CHAMPION)
    moved = {c.version for c in moves}
    found = [
        dataclasses.replace(
            change(versions[number], versions[number].stage, Cause.MIGRATION), from_stage=None
        )
        for number in sorted(unrecorded & set(targets) - moved)
    ]
    return Plan(timeframe, None if champion is None else champion.version, (*found, *moves))


def _mapped(legacy_stage: str) -> Stage:
    try:
        return LEGACY_STAGES[legacy_stage]
    except KeyError:
        raise ValidationError(f"unknown legacy MLflow stage {legacy_stage!r}") from None


def _choose(timeframe: str, candidates: list[int], winner: int | None) -> int | None:
    if winner is not None:
        if winner not in candidates:
            shown = ", ".join(map(str, candidates)) or "none"
            raise ValidationError(
                f"--winner {winner} is not a champion candidate of {timeframe} "
                f"(candidates: {shown})"
            )
        return winner
    if len(candidates) > 1:
        shown = ", ".join(f"v{n}" for n in candidates)
        raise ConflictError(
            f"{timeframe} has {len(candidates)} champion candidates ({shown}): "
            "say which one wins with --winner",
            hint="the others are archived",
        )
    return candidates[0] if candidates else None

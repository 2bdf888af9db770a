"""The policy's gates on a move: the evidence read, the verdict, the refusal.

The planner calls ``judge`` under the timeframe's lock, so the gates see what the move
will see. Only the evidence the gates ask for is read: a policy without a soak gate never
reads the history. Imports the domain and the ports.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from stagekeeper.domain.conditions import GateResult
from stagekeeper.domain.errors import GateError
from stagekeeper.domain.model import StageChange, VersionState
from stagekeeper.domain.policy import APPROVALS_GATE, Evidence, Policy
from stagekeeper.domain.stages import Stage
from stagekeeper.service.ports import TimeframeView

LIFECYCLE_GATE = "lifecycle"


def judge(
    policy: Policy,
    view: TimeframeView,
    candidate: VersionState,
    target: Stage,
    *,
    champion: VersionState | None,
    reason: str | None,
    now: datetime,
    rollback: bool = False,
) -> list[GateResult]:
    """Every gate of ``target`` on moving ``candidate`` there."""
    gates = policy.gates(target)
    if gates.is_open:
        return []  # nothing to read: no evidence is gathered
    weighs_evidence = not rollback or policy.rollback_gates
    beats = weighs_evidence and any(c.champion_metric for c in gates.require)
    rival = rival_of(view, candidate, champion) if beats else None
    evidence = Evidence(
        metrics=view.metrics(candidate.version) if weighs_evidence and gates.require else {},
        champion=None if rival is None else rival.version,
        champion_metrics={} if rival is None else view.metrics(rival.version),
        stage=candidate.stage,
        in_stage_since=(
            entered_stage(view.history(), candidate) if weighs_evidence and gates.soak else None
        ),
        reason=reason,
        now=now,
        champion_reigns=rival is not None and rival.stage is Stage.CHAMPION,
    )
    return policy.evaluate(target, evidence, rollback=rollback)


def rival_of(
    view: TimeframeView, candidate: VersionState, champion: VersionState | None
) -> VersionState | None:
    """The version a "beat the champion" gate compares with: the reigning champion, or,
    when none reigns, the last one (where ``rollback`` goes), so that archiving the
    champion first is no way round the gate. ``None`` if the candidate is the champion,
    or no version was ever crowned."""
    reigning = champion if champion is not None else view.champion()
    if reigning is not None:
        return None if reigning.version == candidate.version else reigning
    return view.previous_champion(candidate.version)


def entered_stage(history: Sequence[StageChange], version: VersionState) -> datetime | None:
    """When ``version`` last moved into the stage it stands in, from the history."""
    for change in reversed(history):
        if change.version == version.version and change.moves:
            return change.at if change.to_stage is version.stage else None
    return None


def lifecycle_result(allowed: bool, candidate: VersionState, target: Stage) -> GateResult:
    """The lifecycle's verdict, shown as a gate by ``check``."""
    from stagekeeper.domain.lifecycle import allowed_targets

    move = f"{candidate.stage.value} -> {target.value}"
    if allowed:
        return GateResult(LIFECYCLE_GATE, True, move, "a move the lifecycle allows")
    targets = ", ".join(t.value for t in allowed_targets(candidate.stage)) or "none"
    return GateResult(LIFECYCLE_GATE, False, move, f"a move to one of: {targets}")


def nothing_to_change(version: VersionState) -> GateResult:
    """``check``'s answer for a version already where it would go: allowed, no gates."""
    already = f"already {version.stage.value}"
    return GateResult(LIFECYCLE_GATE, True, already, "nothing to change: promote is a no-op")


def failed(results: Sequence[GateResult]) -> list[GateResult]:
    return [result for result in results if not result.passed]


def blocking(results: Sequence[GateResult]) -> list[GateResult]:
    """The failed gates that refuse a move; approvals make it wait instead."""
    return [result for result in failed(results) if result.gate != APPROVALS_GATE]


@dataclass(frozen=True)
class Admission:
    """What the gates let a promotion do: move (``detail`` for a forced one) or ask."""

    asks_approval: bool = False
    detail: str | None = None


def admit(
    policy: Policy, target: Stage, results: Sequence[GateResult], subject: str, *, force: bool
) -> Admission:
    """The gates' answer to a promotion; ``GateError`` if they refuse it."""
    if force:
        if not policy.gates(target).allow_force:
            raise GateError(f"the policy forbids forcing {subject} {target.value}", ())
        return Admission(detail=bypassed(failed(results)))
    failures = blocking(results)
    if failures:
        raise refusal(failures, subject, target)
    return Admission(asks_approval=bool(policy.gates(target).approvals))


def refusal(failures: Sequence[GateResult], subject: str, target: Stage) -> GateError:
    """The error for a move the policy refuses, listing every failed gate."""
    lines = tuple(result.line() for result in failures)
    return GateError(
        f"the policy refuses to make {subject} {target.value}: " + "; ".join(lines),
        lines,
        hint="stagekeeper check shows every gate; promote --force --reason bypasses them",
    )


def bypassed(failures: Sequence[GateResult]) -> str:
    """A forced change's detail: the gates it went past."""
    if not failures:
        return "forced; no gate failed"
    return "forced past: " + "; ".join(result.line() for result in failures)

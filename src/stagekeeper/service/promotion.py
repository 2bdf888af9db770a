"""Moving versions: register, promote (with the automatic demotion), roll back, and check.

Each write plans under the timeframe's lock through the write path (``writing``): the
lifecycle first, then the policy's gates, read and judged under the same lock. ``check``
asks the same questions without the lock and changes nothing. Imports the domain, the
ports and the other use cases' pure helpers.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from stagekeeper.domain import validation
from stagekeeper.domain.conditions import GateResult
from stagekeeper.domain.errors import TransitionError, ValidationError
from stagekeeper.domain.model import (
    ModelVersion,
    Plan,
    Registration,
    StageChange,
    VersionState,
    metrics_detail,
)
from stagekeeper.domain.stages import Cause, Stage
from stagekeeper.service import approving, gates
from stagekeeper.service.checks import check_lifecycle, number_of
from stagekeeper.service.policies import policy_of
from stagekeeper.service.ports import Planned, TimeframeView
from stagekeeper.service.reading import StoreView
from stagekeeper.service.writing import WritePath, changes


def register(
    path: WritePath,
    timeframe: str,
    version: int | str | None = None,
    *,
    source: str | None = None,
    metrics: Mapping[str, float | str] | None = None,
    reason: str | None = None,
    actor: str | None = None,
) -> ModelVersion:
    """Add a version in development: the next number, or ``version`` if given; with
    ``metrics``, recorded on it in the same step."""
    values = validation.metrics(metrics)
    timeframe = validation.timeframe(timeframe)
    who = path.actor_of(actor)
    registration = Registration(
        timeframe=timeframe,
        model_name=path.options.model_name(timeframe),
        version=validation.optional_version(version),
        source=validation.source(source),
        reason=validation.reason(reason),
        actor=who,
        stamp=path.stamp,
        identity=path.identity(),
        metrics=values,
        detail=metrics_detail(values, {}) if values else None,
    )
    committed = path.commit(registration)
    assert committed is not None and committed.version is not None  # always one
    return committed.version


def promote(
    path: WritePath,
    timeframe: str,
    version: int | str,
    stage: Stage | str,
    *,
    reason: str | None = None,
    actor: str | None = None,
    force: bool = False,
) -> list[StageChange]:
    """Move a version to ``stage``; crowning a champion archives the old one atomically.

    The store's policy must let the move through (``GateError`` lists every gate that
    failed); ``force`` goes past the gates, with a reason, unless the policy forbids it,
    and never past the lifecycle. Returns the changes made, the auto-demotion first; an
    empty list when the version is already in ``stage``.

    When the policy asks for approvals, nothing moves: a request is recorded and the one
    change returned is its history entry (cause ``request``); ``pending_request`` finds
    it, and ``approve`` completes it. Asking again while it is pending changes nothing and
    returns an empty list.
    """
    timeframe = validation.timeframe(timeframe)
    number = validation.version(version)
    target = Stage.parse(stage)
    reason = validation.reason(reason)
    actor = None if actor is None else validation.actor(actor)
    if force and not (reason and reason.strip()):
        raise ValidationError("a forced move needs a reason: give --force with --reason")

    def plan(view: TimeframeView) -> Plan | None:
        current = path.existing(view, number)
        if current.stage is target:
            return None
        policy = policy_of(view)
        context = path.context(reason, actor)
        move = context.change(current, target, Cause.FORCED if force else Cause.PROMOTION)
        check_lifecycle(Plan(timeframe, None, (move,)), view)  # before any gate
        champion = view.champion() if target is Stage.CHAMPION else None
        results = gates.judge(
            policy, view, current, target, champion=champion, reason=context.reason, now=context.at
        )
        subject = f"version {number} of {current.model_name}"
        admission = gates.admit(policy, target, results, subject, force=force)
        if admission.asks_approval:
            return approving.request_plan(view, context, current, target, policy.gates(target))
        if admission.detail is not None:
            move = dataclasses.replace(move, detail=admission.detail)
        demotion = [] if champion is None else [
            context.change(champion, Stage.ARCHIVED, Cause.AUTO_DEMOTION)
        ]  # fmt: skip
        return Plan(timeframe, number_of(champion), (*demotion, move))

    return changes(path.commit(Planned(timeframe, plan)))


def rollback(
    path: WritePath,
    timeframe: str,
    to_version: int | str | None = None,
    *,
    reason: str | None = None,
    actor: str | None = None,
) -> list[StageChange]:
    """See ``Registry.rollback``."""
    timeframe = validation.timeframe(timeframe)
    wanted = validation.optional_version(to_version)
    reason = validation.reason(reason)
    actor = None if actor is None else validation.actor(actor)

    def plan(view: TimeframeView) -> Plan | None:
        champion = view.champion()
        target = _rollback_target(path, view, wanted, champion)
        if champion is not None and target.version == champion.version:
            return None
        context = path.context(reason, actor)
        failures = gates.failed(
            gates.judge(
                policy_of(view), view, target, Stage.CHAMPION,
                champion=champion, reason=context.reason, now=context.at, rollback=True,
            )
        )  # fmt: skip
        if failures:
            subject = f"version {target.version} of {target.model_name}"
            raise gates.refusal(failures, subject, Stage.CHAMPION)
        demotion = [] if champion is None else [
            context.change(champion, Stage.ARCHIVED, Cause.ROLLBACK)
        ]  # fmt: skip
        crowning = context.change(target, Stage.CHAMPION, Cause.ROLLBACK)
        return Plan(timeframe, number_of(champion), (*demotion, crowning))

    return changes(path.commit(Planned(timeframe, plan)))


def _rollback_target(
    path: WritePath, view: TimeframeView, wanted: int | None, champion: VersionState | None
) -> VersionState:
    if wanted is not None:
        return path.existing(view, wanted)
    previous = view.previous_champion(number_of(champion))
    if previous is not None:
        return previous
    raise TransitionError(f"{view.timeframe} has no archived former champion to roll back to")


def check(
    path: WritePath,
    timeframe: str,
    version: int | str,
    stage: Stage | str,
    *,
    reason: str | None = None,
) -> list[GateResult]:
    """See ``Registry.check``."""
    from stagekeeper.domain import lifecycle

    timeframe = validation.timeframe(timeframe)
    number = validation.version(version)
    target = Stage.parse(stage)
    reason = validation.reason(reason)
    view = StoreView(path.store, timeframe)
    current = path.existing(view, number)
    if current.stage is target:
        return [gates.nothing_to_change(current)]
    allowed = target in lifecycle.allowed_targets(current.stage)
    champion = view.champion() if target is Stage.CHAMPION else None
    return [
        gates.lifecycle_result(allowed, current, target),
        *gates.judge(
            policy_of(view), view, current, target,
            champion=champion, reason=reason, now=path.clock(),
        ),
    ]  # fmt: skip

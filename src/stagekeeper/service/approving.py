"""Planners for approval requests: asking, approving, rejecting, expiring.

Each runs under the timeframe's lock, inside ``Registry.commit``, so two approvers of one
request wait for each other: the second sees the first's approval. The move happens in the
same step as the last approval, and only if the version still stands where it stood when
the move was asked for and every gate still passes then. Imports the domain and the ports.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime

from stagekeeper.domain.approvals import Approval, ApprovalRequest, RequestState
from stagekeeper.domain.errors import NotFoundError, TransitionError
from stagekeeper.domain.model import Plan, StageChange, VersionState
from stagekeeper.domain.operation import OperationContext
from stagekeeper.domain.policy import Policy, StageGates
from stagekeeper.domain.stages import Cause, Stage
from stagekeeper.service import gates
from stagekeeper.service.checks import check_lifecycle, number_of
from stagekeeper.service.ports import TimeframeView


def request_plan(
    view: TimeframeView,
    context: OperationContext,
    current: VersionState,
    target: Stage,
    stage_gates: StageGates,
) -> Plan | None:
    """Record a request for the move, unless the same one is pending already (then
    nothing). Requests of the timeframe past their expiry are closed in the same step."""
    now = context.at
    requests = view.requests()
    if any(r.version == current.version and r.target is target for r in pending(requests, now)):
        return None
    request = ApprovalRequest(
        id=context.operation_id,
        timeframe=current.timeframe,
        model_name=current.model_name,
        version=current.version,
        from_stage=current.stage,
        target=target,
        requester=context.actor,
        reason=context.reason,
        requested_at=now,
        expires_at=now + stage_gates.expires,
        needed=stage_gates.approvals,
        identity=None if context.identity is None else context.identity.name,
    )
    expired, records = expire(view, requests, context)
    asked = record(context, current, Cause.REQUEST, request)
    return Plan(
        current.timeframe, None, (*records, asked), records_only=True, requests=(*expired, request)
    )


def approval_plan(
    view: TimeframeView,
    request: ApprovalRequest,
    context: OperationContext,
    policy: Policy,
) -> Plan:
    """Add an approval; the last one needed also makes the move."""
    verified = policy.gates(request.target).verified_approvals
    refusal = request.approval_refusal(context.actor, context.at, context.identity, verified)
    if refusal:
        raise TransitionError(refusal)
    identity = None if context.identity is None else context.identity.name
    updated = request.approved_by(Approval(context.actor, context.at, context.reason, identity))
    current = existing(view, request)
    approved = record(context, current, Cause.APPROVAL, updated)
    if updated.state is not RequestState.APPROVED:
        return Plan(request.timeframe, None, (approved,), records_only=True, requests=(updated,))
    if current.stage is not request.from_stage:
        raise TransitionError(
            f"version {current.version} of {current.model_name} is {current.stage.value} now, "
            f"not {request.from_stage.value} as when the move was asked for: nothing approved",
            hint="reject the request, and ask again from where the version stands",
        )
    move = dataclasses.replace(
        context.change(current, request.target, Cause.PROMOTION),
        reason=request.reason,
        detail=f"request {request.id} of {request.requester}, approved by "
        + ", ".join(a.actor for a in updated.approvals),
    )
    check_lifecycle(Plan(request.timeframe, None, (move,)), view)
    champion = view.champion() if request.target is Stage.CHAMPION else None
    results = gates.judge(
        policy, view, current, request.target,
        champion=champion, reason=request.reason, now=context.at,
    )  # fmt: skip
    failures = gates.blocking(results)
    if failures:
        subject = f"version {current.version} of {current.model_name}"
        raise gates.refusal(failures, subject, request.target)
    changes = [approved]
    if champion is not None:
        demotion = context.change(champion, Stage.ARCHIVED, Cause.AUTO_DEMOTION)
        changes.append(dataclasses.replace(demotion, reason=request.reason))
    changes.append(move)
    return Plan(request.timeframe, number_of(champion), tuple(changes), requests=(updated,))


def rejection_plan(
    view: TimeframeView, request: ApprovalRequest, context: OperationContext
) -> Plan:
    refusal = request.closed_refusal(context.at)
    if refusal:
        raise TransitionError(refusal)
    rejected = request.closed(RequestState.REJECTED, context.actor, context.at, context.reason)
    change = record(context, existing(view, request), Cause.REJECTION, rejected)
    return Plan(request.timeframe, None, (change,), records_only=True, requests=(rejected,))


def expire(
    view: TimeframeView, requests: Sequence[ApprovalRequest], context: OperationContext
) -> tuple[list[ApprovalRequest], list[StageChange]]:
    """Close the pending requests past their expiry, each with its history entry."""
    closed, records = [], []
    for request in requests:
        overdue = request.state is RequestState.PENDING and not pending([request], context.at)
        if overdue:
            expired = request.closed(RequestState.EXPIRED, context.actor, context.at, None)
            closed.append(expired)
            version = view.get(request.version)
            if version is not None:
                records.append(record(context, version, Cause.EXPIRY, expired))
    return closed, records


def pending(requests: Sequence[ApprovalRequest], now: datetime) -> list[ApprovalRequest]:
    """The requests still open at ``now``."""
    return [r for r in requests if r.state_at(now) is RequestState.PENDING]


def find(view: TimeframeView, request_id: str) -> ApprovalRequest:
    found = next((r for r in view.requests() if r.id == request_id), None)
    if found is None:
        raise NotFoundError(f"no approval request {request_id}")
    return found


def existing(view: TimeframeView, request: ApprovalRequest) -> VersionState:
    found = view.get(request.version)
    if found is None:
        raise NotFoundError(f"{request.model_name} has no version {request.version} any more")
    return found


def record(
    context: OperationContext, version: VersionState, cause: Cause, request: ApprovalRequest
) -> StageChange:
    """A history entry about a request: it moves nothing."""
    return dataclasses.replace(
        context.change(version, version.stage, cause), detail=request.describe()
    )

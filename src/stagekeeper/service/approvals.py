"""Approving and rejecting requests, and reading them.

The planners (``approving``) run under the timeframe's lock through the write path, so
two approvers of one request wait for each other. An action on a request found past its
expiry records the expiry instead, and is then refused. Imports the domain and the ports.
"""

from __future__ import annotations

import dataclasses

from stagekeeper.domain import validation
from stagekeeper.domain.approvals import ApprovalRequest, RequestState
from stagekeeper.domain.errors import NotFoundError, TransitionError, ValidationError
from stagekeeper.domain.model import Plan, StageChange
from stagekeeper.domain.stages import Stage
from stagekeeper.service import approving
from stagekeeper.service.policies import policy_of
from stagekeeper.service.ports import Planned, Planner, TimeframeView
from stagekeeper.service.writing import WritePath, changes


def approve(
    path: WritePath, request_id: str, *, reason: str | None = None, actor: str | None = None
) -> list[StageChange]:
    """See ``Registry.approve``."""
    request = _request(path, request_id)
    reason = validation.reason(reason)
    actor = None if actor is None else validation.actor(actor)

    def plan(view: TimeframeView) -> Plan | None:
        found = approving.find(view, request.id)
        context = path.context(reason, actor)
        return approving.approval_plan(view, found, context, policy_of(view))

    return _acting_on(path, request, plan, actor)


def reject(
    path: WritePath, request_id: str, *, reason: str | None, actor: str | None = None
) -> list[StageChange]:
    """See ``Registry.reject``."""
    request = _request(path, request_id)
    reason = validation.reason(reason)
    if not (reason and reason.strip()):
        raise ValidationError("a rejection needs a reason: give --reason")
    actor = None if actor is None else validation.actor(actor)

    def plan(view: TimeframeView) -> Plan | None:
        found = approving.find(view, request.id)
        return approving.rejection_plan(view, found, path.context(reason, actor))

    return _acting_on(path, request, plan, actor)


def _acting_on(
    path: WritePath, request: ApprovalRequest, planner: Planner, actor: str | None
) -> list[StageChange]:
    """Commit an action on a request; one that finds it expired records the expiry
    instead, and is then refused."""
    expired: list[ApprovalRequest] = []

    def plan(view: TimeframeView) -> Plan | None:
        context = path.context(None, actor)  # the expiry is recorded as theirs
        closed, records = approving.expire(view, [approving.find(view, request.id)], context)
        if closed:
            expired.extend(closed)
            return Plan(request.timeframe, None, tuple(records), True, requests=closed)
        return planner(view)

    made = changes(path.commit(Planned(request.timeframe, plan)))
    if expired:
        raise TransitionError(
            f"request {request.id} expired at {expired[0].expires_at:%Y-%m-%d %H:%M} UTC; "
            "nothing approved",
            hint="ask again with promote",
        )
    return made


def requests(
    path: WritePath, timeframe: str | None = None, *, pending_only: bool = True
) -> list[ApprovalRequest]:
    """See ``Registry.requests``."""
    now = path.clock()
    found = [
        dataclasses.replace(request, state=request.state_at(now))
        for request in path.store.requests(
            None if timeframe is None else validation.timeframe(timeframe)
        )
    ]
    return [r for r in found if not pending_only or r.state is RequestState.PENDING]


def pending_request(
    path: WritePath, timeframe: str, version: int | str, stage: Stage | str
) -> ApprovalRequest | None:
    """See ``Registry.pending_request``."""
    number, target = validation.version(version), Stage.parse(stage)
    return next(
        (r for r in requests(path, timeframe) if r.version == number and r.target is target),
        None,
    )


MIN_PREFIX = 6


def _request(path: WritePath, request_id: str) -> ApprovalRequest:
    """The request ``request_id`` names: its id, or a unique prefix of 6 characters or more."""
    wanted = validation.text(request_id, "request id", 64).strip().lower()
    every = path.store.requests()
    exact = [r for r in every if r.id == wanted]
    found = exact or (
        [r for r in every if r.id.startswith(wanted)] if len(wanted) >= MIN_PREFIX else []
    )
    if len(found) == 1:
        return found[0]
    if len(found) > 1:
        raise ValidationError(
            f"request id {wanted} is the start of {len(found)} requests: give more of it"
        )
    raise NotFoundError(
        f"no approval request {wanted}", hint="stagekeeper requests lists them (--all: closed too)"
    )

"""Approval requests: a move the policy holds until other people approve it.

A request names the move (version, where it stood, where it goes), who asked and why, how
many approvals it needs and when it expires. It is pure data with the rules of who may act
on it; the service records it, and each action on it, in the history, under the
timeframe's lock. Imports only the standard library and the domain.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from stagekeeper.domain.identity import Identity
from stagekeeper.domain.stages import Stage
from stagekeeper.domain.validation import same_actor

DEFAULT_EXPIRY = timedelta(days=7)


class RequestState(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"  # the last approval arrived and the move was made
    REJECTED = "rejected"
    EXPIRED = "expired"


@dataclass(frozen=True)
class Approval:
    """One approval: the declared actor, and the store's own identity of them if it has one."""

    actor: str
    at: datetime
    reason: str | None = None
    identity: str | None = None


@dataclass(frozen=True)
class ApprovalRequest:
    id: str
    timeframe: str
    model_name: str
    version: int
    from_stage: Stage
    target: Stage
    requester: str
    reason: str | None
    requested_at: datetime
    expires_at: datetime
    needed: int
    identity: str | None = None  # the requester as the store authenticated them
    approvals: tuple[Approval, ...] = ()
    state: RequestState = RequestState.PENDING
    closed_at: datetime | None = None
    closed_by: str | None = None
    closing_reason: str | None = None

    def state_at(self, now: datetime) -> RequestState:
        """The state as of ``now``: a pending request past its expiry is expired, recorded
        or not yet."""
        if self.state is RequestState.PENDING and now >= self.expires_at:
            return RequestState.EXPIRED
        return self.state

    @property
    def remaining(self) -> int:
        return self.needed - len(self.approvals)

    def closed_refusal(self, now: datetime) -> str | None:
        """Why nobody may act on it any more, or ``None`` while it is pending."""
        state = self.state_at(now)
        if state is not RequestState.PENDING:
            return f"request {self.id} is {state.value}, not pending"
        return None

    def approval_refusal(
        self,
        actor: str,
        now: datetime,
        identity: Identity | None = None,
        verified: bool = False,
    ) -> str | None:
        """Why ``actor`` may not approve it now, or ``None``: only a pending request, never
        the requester's own, and each approver once. Declared names are compared as one
        person's whatever their case, spacing or Unicode form (``validation.same_actor``).

        With ``verified`` (the policy's ``approvals_identity = "verified"``), the identities
        the store verified are compared instead, and an approval without one is refused: a
        declared name is a label, no proof. Otherwise identities are recorded, not compared,
        since a team may share one database login."""
        closed = self.closed_refusal(now)
        if closed:
            return closed
        if verified:
            return self._identity_refusal(identity)
        if same_actor(actor, self.requester):
            return f"{actor} asked for this move: the approval must come from someone else"
        if any(same_actor(approval.actor, actor) for approval in self.approvals):
            return f"{actor} has approved request {self.id} already"
        return None

    def _identity_refusal(self, identity: Identity | None) -> str | None:
        if identity is None or not identity.verified:
            return "this policy counts only verified approvals, and this store verifies no one"
        if self.identity is None:
            return f"request {self.id} was asked by no verified identity: ask again"
        if same_actor(identity.name, self.identity):
            return (
                f"{identity.name} ({identity.source}) asked for this move: the approval must "
                "come from another login"
            )
        if any(a.identity and same_actor(a.identity, identity.name) for a in self.approvals):
            return f"{identity.name} ({identity.source}) has approved request {self.id} already"
        return None

    def approved_by(self, approval: Approval) -> ApprovalRequest:
        approvals = (*self.approvals, approval)
        if len(approvals) < self.needed:
            return dataclasses.replace(self, approvals=approvals)
        return dataclasses.replace(
            self,
            approvals=approvals,
            state=RequestState.APPROVED,
            closed_at=approval.at,
            closed_by=approval.actor,
            closing_reason=approval.reason,
        )

    def closed(
        self, state: RequestState, actor: str, at: datetime, reason: str | None
    ) -> ApprovalRequest:
        return dataclasses.replace(
            self, state=state, closed_at=at, closed_by=actor, closing_reason=reason
        )

    def describe(self) -> str:
        """The request in a history entry's detail."""
        return (
            f"request {self.id}: {self.from_stage.value} -> {self.target.value}, "
            f"{len(self.approvals)} of {self.needed} approvals"
        )


def to_document(request: ApprovalRequest) -> dict[str, Any]:
    """A request as JSON-ready data, as the stores keep it."""
    document = dataclasses.asdict(request)
    for key in ("requested_at", "expires_at", "closed_at"):
        document[key] = _time_text(document[key])
    document["approvals"] = [
        {**dataclasses.asdict(a), "at": _time_text(a.at)} for a in request.approvals
    ]
    for key in ("from_stage", "target", "state"):
        document[key] = str(document[key])
    return document


def from_document(document: dict[str, Any]) -> ApprovalRequest:
    """The request a store kept; ``KeyError``/``ValueError`` if it is not one."""
    return ApprovalRequest(
        id=str(document["id"]),
        timeframe=str(document["timeframe"]),
        model_name=str(document["model_name"]),
        version=int(document["version"]),
        from_stage=Stage(document["from_stage"]),
        target=Stage(document["target"]),
        requester=str(document["requester"]),
        reason=document["reason"],
        requested_at=_time(document["requested_at"]),
        expires_at=_time(document["expires_at"]),
        needed=int(document["needed"]),
        identity=document.get("identity"),
        approvals=tuple(
            Approval(str(a["actor"]), _time(a["at"]), a.get("reason"), a.get("identity"))
            for a in document.get("approvals", [])
        ),
        state=RequestState(document["state"]),
        closed_at=None if document.get("closed_at") is None else _time(document["closed_at"]),
        closed_by=document.get("closed_by"),
        closing_reason=document.get("closing_reason"),
    )


def _time_text(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat()


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)

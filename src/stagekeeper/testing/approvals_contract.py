"""The contract's part on approvals: requests, four eyes, expiry, racing approvers.
``RegistryContract`` includes it."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from stagekeeper.domain.errors import (
    GateError,
    TransitionError,
    ValidationError,
)
from stagekeeper.domain.stages import Cause, Stage
from stagekeeper.service.registry import Registry
from stagekeeper.testing.base import ContractBase, RegistryFactory, snapshot, stages_of

SHARPE_POLICY: dict[str, Any] = {"champion": {"require": ["sharpe >= 1.0"]}}


class ApprovalsContract(ContractBase):
    """Approval requests kept in the store (its approvals role)."""

    # -- approvals ----------------------------------------------------------------------

    def asked(self, registry: Registry, policy: dict[str, Any], **metrics: float) -> str:
        """A champion (v1), a candidate in beta, and a pending request to crown it."""
        self._with_champion(registry)
        registry.set_policy(policy)
        candidate = self.in_beta(registry, **metrics)
        [asked] = registry.promote(
            "1H", candidate.version, Stage.CHAMPION, reason="best backtest", actor="ann"
        )
        assert asked.cause is Cause.REQUEST
        request = registry.pending_request("1H", candidate.version, Stage.CHAMPION)
        assert request is not None and request.requester == "ann"
        return request.id

    def test_a_move_that_needs_approval_records_a_request_only(self, registry: Registry) -> None:
        request_id = self.asked(registry, {"champion": {"approvals": 1}})
        assert stages_of(registry) == {1: Stage.CHAMPION, 2: Stage.BETA}
        before = snapshot(registry)
        assert registry.promote("1H", 2, Stage.CHAMPION, actor="ann") == []  # asked already
        assert snapshot(registry) == before
        [request] = registry.requests("1H")
        assert (request.id, request.version, request.target) == (request_id, 2, Stage.CHAMPION)
        assert (request.needed, request.approvals, request.reason) == (1, (), "best backtest")

    def test_the_last_approval_makes_the_move_atomically(self, registry: Registry) -> None:
        request_id = self.asked(registry, {"champion": {"approvals": 1}})
        with pytest.raises(TransitionError, match="someone else"):
            registry.approve(request_id, actor="ann")
        approval, demotion, crowning = registry.approve(request_id, reason="ok", actor="bob")
        assert stages_of(registry) == {1: Stage.ARCHIVED, 2: Stage.CHAMPION}
        assert approval.cause is Cause.APPROVAL and approval.actor == "bob"
        assert demotion.cause is Cause.AUTO_DEMOTION
        assert (crowning.cause, crowning.reason) == (Cause.PROMOTION, "best backtest")
        assert "approved by bob" in (crowning.detail or "")
        assert len({approval.operation_id, demotion.operation_id, crowning.operation_id}) == 1
        assert registry.requests("1H") == []
        [done] = registry.requests("1H", pending_only=False)
        assert done.state.value == "approved"
        with pytest.raises(TransitionError, match="approved, not pending"):
            registry.approve(request_id, actor="carol")

    def test_each_approver_counts_once(self, registry: Registry) -> None:
        request_id = self.asked(registry, {"champion": {"approvals": 2}})
        [first] = registry.approve(request_id, actor="bob")
        assert first.cause is Cause.APPROVAL and "1 of 2 approvals" in (first.detail or "")
        with pytest.raises(TransitionError, match=r"approved request .* already"):
            registry.approve(request_id, actor="bob")
        assert stages_of(registry)[2] is Stage.BETA
        registry.approve(request_id, actor="carol")
        assert stages_of(registry)[2] is Stage.CHAMPION

    def test_one_person_under_two_spellings_is_one_person(self, registry: Registry) -> None:
        request_id = self.asked(registry, {"champion": {"approvals": 2}})
        before = snapshot(registry)
        for spelling in ("ann ", "Ann", " ANN", "\uff41nn"):  # the last: a fullwidth a
            with pytest.raises(TransitionError, match="someone else"):
                registry.approve(request_id, actor=spelling)
        assert snapshot(registry) == before
        registry.approve(request_id, actor="bob")
        with pytest.raises(TransitionError, match=r"approved request .* already"):
            registry.approve(request_id, actor="Bob ")
        assert stages_of(registry)[2] is Stage.BETA

    def test_a_name_with_hidden_characters_is_refused(self, registry: Registry) -> None:
        request_id = self.asked(registry, {"champion": {"approvals": 1}})
        before = snapshot(registry)
        for name in ("\u202eevil", "bo\u200bb", "bob\x1b[2K"):
            with pytest.raises(ValidationError, match="control or format character"):
                registry.approve(request_id, actor=name)
        assert snapshot(registry) == before

    def test_a_rejected_request_needs_a_reason_and_closes(self, registry: Registry) -> None:
        request_id = self.asked(registry, {"champion": {"approvals": 1}})
        with pytest.raises(ValidationError, match="reason"):
            registry.reject(request_id, reason=None, actor="bob")
        [rejected] = registry.reject(request_id, reason="drawdown too deep", actor="bob")
        assert (rejected.cause, rejected.reason) == (Cause.REJECTION, "drawdown too deep")
        with pytest.raises(TransitionError, match="rejected, not pending"):
            registry.approve(request_id, actor="carol")
        assert stages_of(registry)[2] is Stage.BETA

    def test_an_expired_request_is_recorded_and_refused(self, registry: Registry) -> None:
        request_id = self.asked(registry, {"champion": {"approvals": 1, "expires": "1s"}})
        time.sleep(1.05)
        with pytest.raises(TransitionError, match="expired"):
            registry.approve(request_id, actor="bob")
        expiry = registry.history("1H")[-1]
        assert (expiry.cause, expiry.actor) == (Cause.EXPIRY, "bob")
        [expired] = registry.requests("1H", pending_only=False)
        assert expired.state.value == "expired"
        assert stages_of(registry)[2] is Stage.BETA

    def test_an_approval_is_refused_once_a_gate_stops_holding(self, registry: Registry) -> None:
        policy = {"champion": {"approvals": 1, "require": ["sharpe >= 1.0"]}}
        request_id = self.asked(registry, policy, sharpe=1.2)
        registry.set_metrics("1H", 2, {"sharpe": 0.5}, reason="out-of-sample re-run")
        before = snapshot(registry)
        with pytest.raises(GateError, match=r"sharpe >= 1\.0: found 0\.5"):
            registry.approve(request_id, actor="bob")
        assert snapshot(registry) == before
        assert [r.id for r in registry.requests("1H")] == [request_id]  # still pending

    def test_an_approval_is_refused_once_the_version_moved(self, registry: Registry) -> None:
        request_id = self.asked(registry, {"champion": {"approvals": 1}})
        registry.promote("1H", 2, Stage.DEVELOPMENT, reason="more work")
        before = snapshot(registry)
        with pytest.raises(TransitionError, match="is development now, not beta"):
            registry.approve(request_id, actor="bob")
        assert snapshot(registry) == before

    def test_two_approvers_racing_make_one_move(self, registry_factory: RegistryFactory) -> None:
        with registry_factory() as registry:
            request_id = self.asked(registry, {"champion": {"approvals": 1}})
        outcomes: list[str] = []
        barrier = threading.Barrier(2)

        def approve(actor: str) -> None:
            with registry_factory() as own:
                barrier.wait()
                try:
                    own.approve(request_id, actor=actor)
                    outcomes.append("moved")
                except TransitionError as exc:
                    outcomes.append(str(exc))

        threads = [threading.Thread(target=approve, args=(name,)) for name in ("bob", "carol")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(outcomes)[0] == "moved" and "not pending" in sorted(outcomes)[1]
        with registry_factory() as check:
            assert stages_of(check) == {1: Stage.ARCHIVED, 2: Stage.CHAMPION}
            causes = [c.cause for c in check.history("1H")]
            assert causes.count(Cause.APPROVAL) == 1 and causes.count(Cause.PROMOTION) == 4

    def test_forcing_goes_past_the_approvals(self, registry: Registry) -> None:
        self._with_champion(registry)
        registry.set_policy({"champion": {"approvals": 1}})
        candidate = self.in_beta(registry)
        [_, forced] = registry.promote(
            "1H", candidate.version, Stage.CHAMPION, force=True, reason="outage"
        )
        assert forced.cause is Cause.FORCED and "approvals" in (forced.detail or "")
        assert registry.requests("1H") == []

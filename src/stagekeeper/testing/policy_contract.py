"""The contract's part on evidence and policies: metrics, stored policies, gates, forced
moves. ``RegistryContract`` includes it, so every backend passes it."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from stagekeeper.domain.errors import (
    GateError,
    NotFoundError,
    TransitionError,
    ValidationError,
)
from stagekeeper.domain.model import ModelVersion
from stagekeeper.domain.stages import Cause, Stage
from stagekeeper.service.registry import Registry
from stagekeeper.testing.base import ContractBase, RegistryFactory, snapshot, stages_of

SHARPE_POLICY: dict[str, Any] = {"champion": {"require": ["sharpe >= 1.0"]}}


class PolicyContract(ContractBase):
    """Metrics on versions, policies kept in the store, and the gates they set."""

    def in_beta(self, registry: Registry, **metrics: float) -> ModelVersion:
        version = self.new(registry, metrics=metrics)
        registry.promote("1H", version.version, Stage.BETA)
        return registry.get("1H", version.version)

    # -- metrics ------------------------------------------------------------------------

    def test_metrics_given_at_registration_are_read_back(self, registry: Registry) -> None:
        version = self.new(registry, metrics={"sharpe": 1.42, "max_drawdown": "0.18"})
        assert registry.metrics("1H", version.version) == {"sharpe": 1.42, "max_drawdown": 0.18}
        [registered] = registry.history("1H")
        assert registered.detail == "max_drawdown=0.18, sharpe=1.42"

    def test_a_replaced_metric_is_recorded_in_the_history(self, registry: Registry) -> None:
        version = self.new(registry, metrics={"sharpe": 1.3})
        [change] = registry.set_metrics(
            "1H", version.version, {"sharpe": 1.5, "sortino": 2}, reason="re-run", actor="ann"
        )
        assert registry.metrics("1H", version.version) == {"sharpe": 1.5, "sortino": 2.0}
        assert change.cause is Cause.METRICS
        assert change.from_stage is change.to_stage is Stage.DEVELOPMENT
        assert (change.actor, change.reason) == ("ann", "re-run")
        assert change.detail == "sharpe=1.5 (was 1.3), sortino=2"
        assert registry.history("1H")[-1] == change
        assert registry.get("1H", version.version).updated_at == version.updated_at  # no move

    def test_setting_a_value_already_recorded_changes_nothing(self, registry: Registry) -> None:
        version = self.new(registry, metrics={"sharpe": 1.3})
        before = snapshot(registry)
        assert registry.set_metrics("1H", version.version, {"sharpe": 1.3}) == []
        assert snapshot(registry) == before

    def test_metrics_of_an_unknown_version_are_refused(self, registry: Registry) -> None:
        self.new(registry)
        before = snapshot(registry)
        with pytest.raises(NotFoundError):
            registry.set_metrics("1H", 9, {"sharpe": 1.0})
        with pytest.raises(NotFoundError):
            registry.metrics("1H", 9)
        with pytest.raises(ValidationError):
            registry.set_metrics("1H", 1, {"sharpe": "high"})
        assert snapshot(registry) == before

    def test_recording_metrics_does_not_restart_the_soak(self, registry: Registry) -> None:
        registry.set_policy({"champion": {"soak": "1s"}})
        candidate = self.in_beta(registry, sharpe=1.0)
        time.sleep(1.05)
        registry.set_metrics("1H", candidate.version, {"sharpe": 1.1})  # not a move
        registry.promote("1H", candidate.version, Stage.CHAMPION)
        assert registry.champion("1H") == registry.get("1H", candidate.version)

    # -- policies -----------------------------------------------------------------------

    def test_a_policy_is_kept_in_the_store_for_every_writer(
        self, registry_factory: RegistryFactory
    ) -> None:
        with registry_factory() as writer:
            change = writer.set_policy(SHARPE_POLICY, reason="team rule", actor="lead")
        with registry_factory() as other:
            assert other.policy().document == change.document
            assert other.policy().gates(Stage.CHAMPION).require[0].text == "sharpe >= 1.0"
            [recorded] = other.policy_history()
        assert (recorded.actor, recorded.reason, recorded.timeframe) == ("lead", "team rule", None)
        assert recorded.operation_id == change.operation_id

    def test_a_timeframe_policy_replaces_the_default_section_by_section(
        self, registry: Registry
    ) -> None:
        registry.set_policy({**SHARPE_POLICY, "beta": {"require_reason": True}})
        registry.set_policy({"champion": {"require": ["sharpe >= 2.0"]}}, timeframe="4H")
        own = registry.policy("4H")
        assert [c.text for c in own.gates(Stage.CHAMPION).require] == ["sharpe >= 2.0"]
        assert own.gates(Stage.BETA).require_reason
        assert [c.text for c in registry.policy("1H").gates(Stage.CHAMPION).require] == [
            "sharpe >= 1.0"
        ]
        assert [c.timeframe for c in registry.policy_history()] == [None, "4H"]

    def test_an_invalid_policy_is_refused_and_nothing_is_stored(self, registry: Registry) -> None:
        documents: list[dict[str, Any]] = [
            {"champion": {"require": ["sharpe >> 1"]}},
            {"champion": {"soak": "a day"}},
            {"development": {}},
            {"champion": {"unknown": True}},
        ]
        for document in documents:
            with pytest.raises(ValidationError):
                registry.set_policy(document)
        assert registry.policy_history() == []

    # -- gates --------------------------------------------------------------------------

    def test_a_failed_threshold_refuses_the_move_and_changes_nothing(
        self, registry: Registry
    ) -> None:
        registry.set_policy({"champion": {"require": ["sharpe >= 1.0", "max_drawdown <= 0.25"]}})
        candidate = self.in_beta(registry, sharpe=0.8)
        before = snapshot(registry)
        with pytest.raises(GateError) as refused:
            registry.promote("1H", candidate.version, Stage.CHAMPION)
        assert refused.value.code == "gate_failed"
        assert refused.value.failures == (
            "sharpe >= 1.0: found 0.8, required >= 1",
            "max_drawdown <= 0.25: found no value, required <= 0.25",
        )
        assert snapshot(registry) == before

    def test_passing_thresholds_let_the_move_through(self, registry: Registry) -> None:
        registry.set_policy(SHARPE_POLICY)
        candidate = self.in_beta(registry, sharpe=1.2)
        [change] = registry.promote("1H", candidate.version, Stage.CHAMPION)
        assert change.cause is Cause.PROMOTION

    def test_a_challenger_must_beat_the_champion_by_the_margin(self, registry: Registry) -> None:
        registry.set_policy({"champion": {"require": ["sharpe > champion.sharpe + 0.1"]}})
        first = self.in_beta(registry, sharpe=1.0)
        registry.promote("1H", first.version, Stage.CHAMPION)  # no champion to beat
        close = self.in_beta(registry, sharpe=1.05)
        with pytest.raises(GateError, match=r"found 1.05, required > 1.1 \(champion v1\)"):
            registry.promote("1H", close.version, Stage.CHAMPION)
        better = self.in_beta(registry, sharpe=1.2)
        registry.promote("1H", better.version, Stage.CHAMPION)
        assert registry.champion("1H") == registry.get("1H", better.version)

    def test_archiving_the_champion_first_is_no_way_round_beating_it(
        self, registry: Registry
    ) -> None:
        registry.set_policy({"champion": {"require": ["sharpe > champion.sharpe + 0.05"]}})
        strong = self.in_beta(registry, sharpe=2.0)
        registry.promote("1H", strong.version, Stage.CHAMPION)
        weak = self.in_beta(registry, sharpe=0.1)
        registry.promote("1H", strong.version, Stage.ARCHIVED)  # nobody reigns now
        before = snapshot(registry)
        with pytest.raises(
            GateError, match=r"found 0.1, required > 2.05 \(last champion v1, archived\)"
        ):
            registry.promote("1H", weak.version, Stage.CHAMPION)
        assert snapshot(registry) == before
        [verdict] = registry.check("1H", weak.version, Stage.CHAMPION)[1:]
        assert not verdict.passed and "last champion v1" in verdict.required
        better = self.in_beta(registry, sharpe=2.1)
        registry.promote("1H", better.version, Stage.CHAMPION)
        assert registry.champion("1H") == registry.get("1H", better.version)

    def test_a_challenger_in_beta_is_compared_with_the_champion_too(
        self, registry: Registry
    ) -> None:
        strong = self.in_beta(registry, sharpe=2.0)
        registry.promote("1H", strong.version, Stage.CHAMPION)
        registry.set_policy({"beta": {"require": ["sharpe >= champion.sharpe"]}})
        weak = self.new(registry, metrics={"sharpe": 1.0})
        with pytest.raises(GateError, match=r"required >= 2 \(champion v1\)"):
            registry.promote("1H", weak.version, Stage.BETA)

    def test_a_policy_gates_the_move_out_of_champion(self, registry: Registry) -> None:
        registry.set_policy({"archived": {"require_reason": True, "approvals": 1}})
        champion = self.in_beta(registry)
        registry.promote("1H", champion.version, Stage.CHAMPION)
        before = snapshot(registry)
        with pytest.raises(GateError, match="reason"):
            registry.promote("1H", champion.version, Stage.ARCHIVED)
        assert snapshot(registry) == before
        [asked] = registry.promote(
            "1H", champion.version, Stage.ARCHIVED, reason="retire", actor="ann"
        )
        assert asked.cause is Cause.REQUEST
        assert registry.champion("1H") == registry.get("1H", champion.version)

    def test_a_required_reason_must_be_given(self, registry: Registry) -> None:
        registry.set_policy({"beta": {"require_reason": True}})
        version = self.new(registry)
        with pytest.raises(GateError, match="reason"):
            registry.promote("1H", version.version, Stage.BETA, reason="  ")
        registry.promote("1H", version.version, Stage.BETA, reason="validated")
        assert stages_of(registry)[version.version] is Stage.BETA

    def test_soak_time_is_read_from_the_history(self, registry: Registry) -> None:
        registry.set_policy({"champion": {"soak": "1s"}})
        candidate = self.in_beta(registry)
        with pytest.raises(GateError, match="soak in beta"):
            registry.promote("1H", candidate.version, Stage.CHAMPION)
        time.sleep(1.05)
        registry.promote("1H", candidate.version, Stage.CHAMPION)

    def test_check_shows_every_gate_and_changes_nothing(self, registry: Registry) -> None:
        registry.set_policy({"champion": {"require_reason": True, **SHARPE_POLICY["champion"]}})
        candidate = self.in_beta(registry, sharpe=1.5)
        before = snapshot(registry)
        results = registry.check("1H", candidate.version, Stage.CHAMPION)
        assert [(r.gate, r.passed) for r in results] == [
            ("lifecycle", True),
            ("reason", False),
            ("sharpe >= 1.0", True),
        ]
        passing = registry.check("1H", candidate.version, "champion", reason="best backtest")
        assert all(r.passed for r in passing)
        fresh = self.new(registry)
        assert not registry.check("1H", fresh.version, Stage.CHAMPION)[0].passed
        assert snapshot(registry)[1][:-1] == before[1]  # only the registration since

    # -- forced moves and rollback ------------------------------------------------------

    def test_a_forced_move_goes_past_the_gates_on_the_record(self, registry: Registry) -> None:
        registry.set_policy(SHARPE_POLICY)
        candidate = self.in_beta(registry, sharpe=0.2)
        with pytest.raises(ValidationError, match="reason"):
            registry.promote("1H", candidate.version, Stage.CHAMPION, force=True)
        [change] = registry.promote(
            "1H", candidate.version, Stage.CHAMPION, force=True, reason="outage: old model broken"
        )
        assert change.cause is Cause.FORCED
        assert change.detail == "forced past: sharpe >= 1.0: found 0.2, required >= 1"
        assert registry.history("1H")[-1] == change

    def test_forcing_never_skips_the_lifecycle(self, registry: Registry) -> None:
        version = self.new(registry)
        before = snapshot(registry)
        with pytest.raises(TransitionError) as refused:
            registry.promote("1H", version.version, Stage.CHAMPION, force=True, reason="now")
        assert not isinstance(refused.value, GateError)
        assert snapshot(registry) == before

    def test_the_policy_can_forbid_forcing(self, registry: Registry) -> None:
        registry.set_policy({"champion": {**SHARPE_POLICY["champion"], "allow_force": False}})
        candidate = self.in_beta(registry, sharpe=0.2)
        before = snapshot(registry)
        with pytest.raises(GateError, match="forbids forcing"):
            registry.promote("1H", candidate.version, Stage.CHAMPION, force=True, reason="now")
        assert snapshot(registry) == before

    def test_rollback_skips_metric_gates_unless_the_policy_says(self, registry: Registry) -> None:
        old = self.in_beta(registry, sharpe=0.5)
        registry.promote("1H", old.version, Stage.CHAMPION)
        new = self.in_beta(registry, sharpe=1.5)
        registry.promote("1H", new.version, Stage.CHAMPION)
        registry.set_policy({**SHARPE_POLICY, "rollback": {"gates": True}})
        before = snapshot(registry)
        with pytest.raises(GateError, match=r"sharpe >= 1\.0"):
            registry.rollback("1H")
        assert snapshot(registry) == before
        registry.set_policy(SHARPE_POLICY)  # the default: rollback is the emergency exit
        registry.rollback("1H")
        assert registry.champion("1H") == registry.get("1H", old.version)

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

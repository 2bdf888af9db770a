"""The contract's part on policies: stored policies, their gates, forced moves.
``RegistryContract`` includes it, so every backend passes it."""

from __future__ import annotations

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


class PolicyContract(ContractBase):
    """Policies kept in the store, and the gates they set."""

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

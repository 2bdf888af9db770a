"""The contract every backend passes, exported so that third-party backends can run it.

Subclass ``RegistryContract`` in a module named ``test_*.py`` and provide one fixture,
``registry_factory``: a callable that opens a new ``Registry`` on one fresh, empty store
each time it is called within a test (so several registries can share that store, as
separate processes would). A store that needs a model source to register a version also
overrides ``version_source``. Real differences between stores are declared as
capabilities (``stagekeeper.service.ports``), never by asking which backend runs.

    class TestMyStore(RegistryContract):
        @pytest.fixture
        def registry_factory(self, tmp_path):
            return lambda: open_registry(f"mystore://{tmp_path}")
"""

from __future__ import annotations

import dataclasses
import threading
from datetime import UTC, timedelta

import pytest

from stagekeeper.domain.errors import (
    ConcurrentUpdateError,
    ConflictError,
    NotFoundError,
    TransitionError,
    ValidationError,
)
from stagekeeper.domain.model import Plan
from stagekeeper.domain.operation import OperationContext
from stagekeeper.domain.stages import Cause, Stage
from stagekeeper.domain.timeline import reigns
from stagekeeper.service.ports import CHOOSES_VERSION_NUMBERS, Planned
from stagekeeper.service.registry import Registry
from stagekeeper.testing.approvals_contract import ApprovalsContract
from stagekeeper.testing.base import ContractBase, RegistryFactory, snapshot, stages_of
from stagekeeper.testing.cursors_contract import CursorsContract
from stagekeeper.testing.events_contract import EventsContract
from stagekeeper.testing.identity_contract import IdentityContract
from stagekeeper.testing.metrics_contract import MetricsContract
from stagekeeper.testing.policy_contract import PolicyContract
from stagekeeper.testing.tokens_contract import TokensContract

__all__ = [
    "ApprovalsContract",
    "CursorsContract",
    "EventsContract",
    "IdentityContract",
    "MetricsContract",
    "PolicyContract",
    "RegistryContract",
    "RegistryFactory",
    "TokensContract",
    "VersionsContract",
]


class VersionsContract(ContractBase):
    """The store's versions role, through the ``Registry`` service: registering, moving,
    reading versions and their history, and the one write path's guarantees."""

    # -- register -----------------------------------------------------------------------

    def test_register_gives_the_next_number_in_development(self, registry: Registry) -> None:
        first = self.new(registry, "1H")
        second = self.new(registry, "1H")
        assert (first.version, second.version) == (1, 2)
        assert first.stage is second.stage is Stage.DEVELOPMENT
        assert first.model_name == registry.model_name("1H")
        assert first.source == self.source
        assert registry.get("1H", 1) == first

    def test_version_numbers_are_counted_per_timeframe(self, registry: Registry) -> None:
        self.new(registry, "1H")
        self.new(registry, "1H")
        assert self.new(registry, "4H").version == 1
        assert self.new(registry, "4H").model_name == registry.model_name("4H")

    def test_registration_is_recorded_with_actor_and_reason(self, registry: Registry) -> None:
        self.new(registry, "1D", reason="nightly run", actor="ci-bot")
        [change] = registry.history("1D")
        assert (change.from_stage, change.to_stage, change.cause) == (
            None,
            Stage.DEVELOPMENT,
            Cause.REGISTRATION,
        )
        assert (change.actor, change.reason, change.version) == ("ci-bot", "nightly run", 1)

    def test_times_are_timezone_aware_utc(self, registry: Registry) -> None:
        version = self.new(registry, "1H")
        [change] = registry.history("1H")
        for moment in (version.created_at, version.updated_at, change.at):
            assert moment.utcoffset() == timedelta(0)
            assert moment.tzinfo is not None
        assert version.created_at.astimezone(UTC) == change.at.astimezone(UTC)

    def test_updated_at_is_the_time_of_the_last_stage_change(self, registry: Registry) -> None:
        version = self.new(registry, "1H")
        [promotion] = registry.promote("1H", version.version, "beta")
        assert registry.get("1H", version.version).updated_at == promotion.at
        assert [v.updated_at for v in registry.list("1H")] == [promotion.at]
        assert version.updated_at == version.created_at

    def test_a_chosen_version_number_is_used_and_a_taken_one_refused(
        self, registry: Registry
    ) -> None:
        if CHOOSES_VERSION_NUMBERS not in registry.store.capabilities:
            with pytest.raises(ValidationError):
                self.new(registry, "1H", version=7)
            assert registry.list() == []
            return
        assert self.new(registry, "1H", version=7).version == 7
        assert self.new(registry, "1H").version == 8
        before = snapshot(registry)
        with pytest.raises(ConflictError):
            self.new(registry, "1H", version=7)
        assert snapshot(registry) == before

    # -- promote ------------------------------------------------------------------------

    def test_promote_moves_the_version_and_records_who_and_why(self, registry: Registry) -> None:
        self.new(registry, "1H")
        [change] = registry.promote("1H", "1", "Beta", reason="Passed validation", actor="ana")
        assert registry.get("1H", 1).stage is Stage.BETA
        assert (change.from_stage, change.to_stage, change.cause) == (
            Stage.DEVELOPMENT,
            Stage.BETA,
            Cause.PROMOTION,
        )
        assert (change.actor, change.reason) == ("ana", "Passed validation")
        assert registry.history("1H")[-1] == change

    def test_promoting_to_the_current_stage_is_a_no_op(self, registry: Registry) -> None:
        self.new(registry, "1H")
        registry.promote("1H", 1, Stage.BETA)
        before = snapshot(registry)
        assert registry.promote("1H", 1, Stage.BETA) == []
        assert snapshot(registry) == before

    def test_a_refused_move_names_the_allowed_targets_and_changes_nothing(
        self, registry: Registry
    ) -> None:
        self.new(registry, "1H")
        before = snapshot(registry)
        with pytest.raises(TransitionError, match="allowed targets are beta, archived"):
            registry.promote("1H", 1, Stage.CHAMPION)
        assert snapshot(registry) == before

    def test_promoting_an_unknown_version_is_not_found(self, registry: Registry) -> None:
        self.new(registry, "1H")
        with pytest.raises(NotFoundError):
            registry.promote("1H", 2, Stage.BETA)
        with pytest.raises(NotFoundError):
            registry.promote("4H", 1, Stage.BETA)

    def test_a_new_champion_archives_the_old_one_in_one_operation(self, registry: Registry) -> None:
        old = self._with_champion(registry)
        new = self.new(registry, "1H")
        registry.promote("1H", new.version, Stage.BETA)
        demotion, promotion = registry.promote("1H", new.version, Stage.CHAMPION, reason="better")
        assert (demotion.version, demotion.from_stage, demotion.to_stage, demotion.cause) == (
            old.version,
            Stage.CHAMPION,
            Stage.ARCHIVED,
            Cause.AUTO_DEMOTION,
        )
        assert (promotion.version, promotion.to_stage) == (new.version, Stage.CHAMPION)
        assert demotion.operation_id == promotion.operation_id
        assert registry.history("1H")[-2:] == [demotion, promotion]
        assert stages_of(registry) == {old.version: Stage.ARCHIVED, new.version: Stage.CHAMPION}

    def test_champions_of_different_timeframes_do_not_touch(self, registry: Registry) -> None:
        hourly = self._with_champion(registry, "1H")
        daily = self._with_champion(registry, "1D")
        assert registry.champion("1H") == hourly
        assert registry.champion("1D") == daily

    def test_a_stale_plan_is_refused_and_changes_nothing(self, registry: Registry) -> None:
        champion = self._with_champion(registry)
        challenger = self.new(registry, "1H")
        registry.promote("1H", challenger.version, Stage.BETA)
        challenger = registry.get("1H", challenger.version)
        before = snapshot(registry)
        stamp = OperationContext(None, "test", challenger.updated_at, "stale")
        stale = stamp.change(challenger, Stage.CHAMPION, Cause.PROMOTION)
        # Planned as if there were no champion: applying it would make two.
        with pytest.raises(ConcurrentUpdateError):
            registry.commit(Planned("1H", lambda _view: Plan("1H", None, (stale,))))
        # Planned from a stage the version has left.
        moved = dataclasses.replace(stale, from_stage=Stage.DEVELOPMENT)
        with pytest.raises(ConcurrentUpdateError):
            registry.commit(Planned("1H", lambda _view: Plan("1H", champion.version, (moved,))))
        assert snapshot(registry) == before

    # -- reads --------------------------------------------------------------------------

    def test_list_filters_by_timeframe_and_stage_in_version_order(self, registry: Registry) -> None:
        for _ in range(3):
            self.new(registry, "1H")
        self.new(registry, "4H")
        registry.promote("1H", 3, Stage.BETA)
        registry.promote("1H", 1, Stage.BETA)
        assert [v.version for v in registry.list("1H", "beta")] == [1, 3]
        assert [(v.timeframe, v.version) for v in registry.list(stage=Stage.DEVELOPMENT)] == [
            ("1H", 2),
            ("4H", 1),
        ]
        assert [v.version for v in registry.list("1H")] == [1, 2, 3]
        assert registry.list("15M") == []

    def test_history_filters_and_limit_keeps_the_latest_oldest_first(
        self, registry: Registry
    ) -> None:
        self.new(registry, "1H")
        self.new(registry, "1H")
        self.new(registry, "4H")
        registry.promote("1H", 1, Stage.BETA)
        registry.promote("1H", 1, Stage.ARCHIVED)
        assert [c.to_stage for c in registry.history("1H", 1)] == [
            Stage.DEVELOPMENT,
            Stage.BETA,
            Stage.ARCHIVED,
        ]
        assert [c.to_stage for c in registry.history("1H", 1, limit=2)] == [
            Stage.BETA,
            Stage.ARCHIVED,
        ]
        assert len(registry.history()) == 5
        assert [c.timeframe for c in registry.history("4H")] == ["4H"]

    def test_status_shows_each_champion_and_the_count_per_stage(self, registry: Registry) -> None:
        self._with_champion(registry, "1H")
        self.new(registry, "1H")
        self.new(registry, "4H")
        status = {s.timeframe: s for s in registry.status()}
        assert status["1H"].champion == 1
        assert status["1H"].counts == {
            Stage.DEVELOPMENT: 1,
            Stage.BETA: 0,
            Stage.CHAMPION: 1,
            Stage.ARCHIVED: 0,
        }
        assert status["4H"].champion is None
        assert status["4H"].model_name == registry.model_name("4H")

    # -- rollback -----------------------------------------------------------------------

    def test_rollback_restores_the_previous_champion(self, registry: Registry) -> None:
        first = self._with_champion(registry)
        second = self._with_champion(registry)
        demotion, restore = registry.rollback("1H", reason="regression")
        assert (demotion.version, demotion.to_stage, demotion.cause) == (
            second.version,
            Stage.ARCHIVED,
            Cause.ROLLBACK,
        )
        assert (restore.version, restore.from_stage, restore.to_stage) == (
            first.version,
            Stage.ARCHIVED,
            Stage.CHAMPION,
        )
        assert demotion.operation_id == restore.operation_id
        assert restore.reason == "regression"
        assert stages_of(registry) == {
            first.version: Stage.CHAMPION,
            second.version: Stage.ARCHIVED,
        }

    def test_rollback_to_a_named_former_champion(self, registry: Registry) -> None:
        first = self._with_champion(registry)
        self._with_champion(registry)
        third = self._with_champion(registry)
        registry.rollback("1H", to_version=first.version)
        assert registry.champion("1H") == registry.get("1H", first.version)
        assert registry.get("1H", third.version).stage is Stage.ARCHIVED

    def test_rollback_to_the_current_champion_is_a_no_op(self, registry: Registry) -> None:
        self._with_champion(registry)
        champion = self._with_champion(registry)
        before = snapshot(registry)
        assert registry.rollback("1H", to_version=champion.version) == []
        assert snapshot(registry) == before

    def test_rollback_refuses_a_version_that_was_never_champion(self, registry: Registry) -> None:
        self._with_champion(registry)
        never = self.new(registry, "1H")
        registry.promote("1H", never.version, Stage.ARCHIVED)
        before = snapshot(registry)
        with pytest.raises(TransitionError, match="never been champion before"):
            registry.rollback("1H", to_version=never.version)
        assert snapshot(registry) == before

    def test_rollback_without_a_former_champion_is_refused(self, registry: Registry) -> None:
        self._with_champion(registry)
        before = snapshot(registry)
        with pytest.raises(TransitionError, match="no archived former champion"):
            registry.rollback("1H")
        assert snapshot(registry) == before

    # -- health -------------------------------------------------------------------------

    def test_a_store_used_only_through_stagekeeper_is_healthy(self, registry: Registry) -> None:
        self._with_champion(registry)
        self._with_champion(registry)
        registry.rollback("1H")
        self.new(registry, "4H")
        assert registry.doctor() == []
        assert registry.doctor(fix=True) == []

    def test_a_record_only_plan_appends_to_the_history_without_moving_versions(
        self, registry: Registry
    ) -> None:
        version = self.new(registry)
        before = [(v.version, v.stage) for v in registry.list()]
        at = version.created_at + timedelta(seconds=1)
        context = OperationContext("seen elsewhere", "doctor", at, "rec", registry.store.identity())
        seen_in_beta = dataclasses.replace(version, stage=Stage.BETA)
        note = context.change(seen_in_beta, Stage.DEVELOPMENT, Cause.REPAIR)
        registry.commit(Planned("1H", lambda _view: Plan("1H", None, (note,), records_only=True)))
        assert [(v.version, v.stage) for v in registry.list()] == before
        assert registry.history("1H")[-1] == note

    def test_a_record_only_plan_is_refused_once_the_version_moved(self, registry: Registry) -> None:
        version = self.new(registry)
        context = OperationContext("seen elsewhere", "doctor", version.created_at, "rec")
        # Records a move to beta, but the version is still in development.
        note = context.change(version, Stage.BETA, Cause.REPAIR)
        before = snapshot(registry)
        with pytest.raises(ConcurrentUpdateError):
            registry.commit(
                Planned("1H", lambda _view: Plan("1H", None, (note,), records_only=True))
            )
        assert snapshot(registry) == before

    # -- many writers -------------------------------------------------------------------

    def test_concurrent_promoters_leave_exactly_one_champion(
        self, registry_factory: RegistryFactory
    ) -> None:
        writers = 4
        with registry_factory() as setup:
            for number in range(1, writers + 1):
                self.new(setup, "1H")
                setup.promote("1H", number, Stage.BETA)
        errors: list[BaseException] = []
        start = threading.Barrier(writers)

        def crown(number: int) -> None:
            with registry_factory() as registry:
                start.wait()
                try:
                    registry.promote("1H", number, Stage.CHAMPION)
                except ConcurrentUpdateError as exc:  # allowed: gave up, changed nothing
                    errors.append(exc)

        threads = [threading.Thread(target=crown, args=(n,)) for n in range(1, writers + 1)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        with registry_factory() as check:
            stages = stages_of(check)
            crowned = [c for c in check.history("1H") if c.to_stage is Stage.CHAMPION]
        assert list(stages.values()).count(Stage.CHAMPION) == 1
        assert len(crowned) == writers - len(errors)
        # Every crowned version but the last was archived by its successor.
        assert [v for v, s in stages.items() if s is Stage.ARCHIVED] == sorted(
            c.version for c in crowned[:-1]
        )

    def test_the_champion_timeline_folds_from_the_history(self, registry: Registry) -> None:
        first = self._with_champion(registry)
        second = self._with_champion(registry)
        registry.rollback("1H", reason="live drawdown")
        found = [(r.version, r.began, r.ended, r.successor) for r in reigns(registry.history())]
        assert found == [
            (first.version, "promotion", "auto-demotion", second.version),
            (second.version, "promotion", "rollback", first.version),
            (first.version, "rollback", None, None),
        ]

    def test_a_second_registry_sees_the_same_store(self, registry_factory: RegistryFactory) -> None:
        with registry_factory() as writer:
            self.new(writer, "1H")
            writer.promote("1H", 1, Stage.BETA)
        with registry_factory() as reader:
            assert reader.get("1H", 1).stage is Stage.BETA
            assert len(reader.history("1H")) == 2


class RegistryContract(
    VersionsContract,
    MetricsContract,
    PolicyContract,
    ApprovalsContract,
    EventsContract,
    CursorsContract,
    IdentityContract,
    TokensContract,
):
    """Everything a ``ModelStore`` must do: every role's contract. A store that plays only
    some roles can subclass those classes alone."""

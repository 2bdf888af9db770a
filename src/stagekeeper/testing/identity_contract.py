"""The contract's part on identity: who the store authenticated, kept beside the declared
actor on requests and approvals. ``RegistryContract`` includes it."""

from __future__ import annotations

from stagekeeper.domain.stages import Stage
from stagekeeper.service.registry import Registry
from stagekeeper.testing.base import ContractBase


class IdentityContract(ContractBase):
    """The store's identity role: a name it checked, or ``None``, the same on every call."""

    def test_the_identity_is_a_name_or_none_and_stays_the_same(self, registry: Registry) -> None:
        found = registry.store.identity()
        assert found is None or (found.verified and found.name.strip() == found.name != "")
        assert registry.store.identity() == found

    def test_a_request_and_its_approval_carry_the_stores_identity(self, registry: Registry) -> None:
        champion = self._with_champion(registry)
        registry.set_policy({"champion": {"approvals": 2}})
        candidate = self.new(registry)
        registry.promote("1H", candidate.version, Stage.BETA)
        registry.promote("1H", candidate.version, Stage.CHAMPION, actor="ann")
        [request] = registry.requests("1H")
        registry.approve(request.id, actor="bob")
        [approved] = registry.requests("1H")
        who = registry.store.identity()
        assert request.identity == (None if who is None else who.name)
        assert [a.identity for a in approved.approvals] == [None if who is None else who.name]
        assert registry.history("1H")[-1].identity == who
        assert registry.champion("1H") == champion  # one approval of two: nothing moved

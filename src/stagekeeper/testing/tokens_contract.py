"""The contract's part on the console's API tokens: kept as digests, found again, revoked.
``RegistryContract`` includes it."""

from __future__ import annotations

import time

import pytest

from stagekeeper.domain.errors import NotFoundError, ValidationError
from stagekeeper.service.registry import Registry
from stagekeeper.service.tokens import authenticate
from stagekeeper.testing.base import ContractBase, RegistryFactory


class TokensContract(ContractBase):
    """The store's tokens role."""

    def test_a_token_signs_its_user_in_until_revoked(
        self, registry_factory: RegistryFactory
    ) -> None:
        with registry_factory() as maker, registry_factory() as server:
            given, kept = maker.create_token("ana", "approver")
            assert given not in str(server.tokens())  # only a digest is kept
            found = authenticate(server.store, given)
            assert found is not None and (found.user, found.role) == ("ana", "approver")
            wrong = given[:-1] + ("0" if given[-1] != "0" else "1")  # one digit off
            assert authenticate(server.store, wrong) is None
            assert authenticate(server.store, "skt_nothing_here") is None
            maker.revoke_token(kept.id)
            assert authenticate(server.store, given) is None
            [listed] = server.tokens()
            assert listed.id == kept.id and listed.revoked_at is not None

    def test_a_token_past_its_expiry_signs_no_one_in(self, registry: Registry) -> None:
        given, kept = registry.create_token("ana", "viewer", expires="1s")
        assert kept.expires_at is not None and kept.expires_at > kept.created_at
        assert authenticate(registry.store, given) is not None
        time.sleep(1.1)
        assert authenticate(registry.store, given) is None
        [listed] = registry.tokens()
        assert listed.expires_at == kept.expires_at
        with pytest.raises(ValidationError, match="expected from 1s"):
            registry.create_token("ana", "viewer", expires="0s")

    def test_a_bad_role_or_an_unknown_token_is_refused(self, registry: Registry) -> None:
        with pytest.raises(ValidationError, match="unknown role"):
            registry.create_token("ana", "owner")
        with pytest.raises(NotFoundError, match="no token"):
            registry.revoke_token("deadbeef")
        assert registry.tokens() == []

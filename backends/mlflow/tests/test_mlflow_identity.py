"""Identity through an MLflow server that checks its users (``--app-name basic-auth``): the
user it authenticated acts, verified, and a policy that counts only verified approvals
compares those users, not the declared names. A server that checks no one verifies no one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.services import mlflow_server

from stagekeeper import TransitionError, ValidationError, open_registry
from stagekeeper.domain.identity import Identity
from stagekeeper.service.registry import Registry

pytestmark = pytest.mark.mlflow_server
SOURCE = "s3://models/identity"
USERS = {"ann": "ann-password-1234", "bob": "bob-password-1234"}


@pytest.fixture(scope="module")
def checked_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    base = tmp_path_factory.mktemp("mlflow-users")
    with mlflow_server.running(base, users=True) as url:
        for name, password in USERS.items():
            mlflow_server.create_user(url, name, password)
        yield url.replace("http://", "mlflow+http://")


def as_user(
    url: str, name: str, template: str, monkeypatch: pytest.MonkeyPatch, actor: str
) -> Registry:
    """A registry whose requests the server authenticates as ``name`` (MLflow's client reads
    the credentials from the environment at each request)."""
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", name)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", USERS[name])
    return open_registry(url, actor=actor, model_name_template=template)


def test_approvals_compare_the_users_the_server_authenticated(
    checked_server: str, model_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    template = model_prefix + "{timeframe}_model"
    ann = as_user(checked_server, "ann", template, monkeypatch, actor="ann")
    assert ann.store.identity() == Identity("ann", "mlflow")
    for number in (1, 2):
        ann.register("1H", source=SOURCE)
        ann.promote("1H", number, "beta")
    ann.promote("1H", 1, "champion")
    ann.set_policy({"champion": {"approvals": 1, "approvals_identity": "verified"}})
    [asked] = ann.promote("1H", 2, "champion")
    before = (ann.list("1H"), ann.history("1H"))
    with pytest.raises(TransitionError, match=r"ann \(mlflow\) asked for this move"):
        ann.approve(asked.operation_id, actor="bob")  # a declared name proves nothing
    assert (ann.list("1H"), ann.history("1H")) == before

    bob = as_user(checked_server, "bob", template, monkeypatch, actor="ann")  # a label only
    approval, _, crowning = bob.approve(asked.operation_id)
    assert approval.who == Identity("bob", "mlflow") and approval.actor == "ann"
    assert bob.champion("1H").version == 2  # type: ignore[union-attr]
    assert {c.who.name for c in bob.history("1H")} == {"ann", "bob"}
    assert crowning.who.verified


def test_a_server_that_checks_no_one_verifies_no_one(
    mlflow_server: str, model_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = mlflow_server.replace("http://", "mlflow+http://")
    registry = as_user(url, "ann", model_prefix + "{timeframe}_model", monkeypatch, actor="ann")
    assert registry.store.identity() is None  # any name would have passed
    with pytest.raises(ValidationError, match="this store verifies no one"):
        registry.set_policy({"champion": {"approvals": 1, "approvals_identity": "verified"}})


@pytest.mark.parametrize("url", ["memory://", "sqlite"])
def test_a_store_that_verifies_no_one_refuses_a_policy_of_verified_approvals(
    url: str, tmp_path: Path
) -> None:
    store = f"sqlite:///{tmp_path / 'a.db'}" if url == "sqlite" else url
    with open_registry(store) as registry:
        with pytest.raises(ValidationError, match="verifies no one"):
            registry.set_policy({"champion": {"approvals_identity": "verified"}})
        assert registry.policy_history() == []

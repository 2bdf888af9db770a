"""The rules PostgreSQL enforces once ``stagekeeper db enforce`` ran, on a cluster that
checks passwords (scram-sha-256), with a login per person: four eyes, the approver group,
protected stages, an append-only history and identities nobody can forge, through
stagekeeper and through SQL written by hand. Every refusal is one clear line and changes
nothing."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import psycopg
import pytest
from hypothesis import settings
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from tests.services import postgres
from tests.unit.test_properties import RegistryModel
from typer.testing import CliRunner

from stagekeeper import ForbiddenError, Stage, ValidationError, open_registry
from stagekeeper.cli.app import app
from stagekeeper.service.registry import Registry

pytestmark = pytest.mark.postgres
OWNER_PASSWORD = "owner-secret"
TEAM = {"ana": "promoter", "bob": "approver", "cara": "approver", "dana": "admin", "vic": "viewer"}
Login = Callable[[str], str]


@pytest.fixture(scope="module")
def secured() -> Iterator[str]:
    """A cluster of its own that checks passwords, with the team's logins: the owner's URL."""
    base = Path(tempfile.mkdtemp(prefix="stagekeeper-pg-secured-"))
    base.chmod(0o777)
    try:
        owner = postgres.start(base, password=OWNER_PASSWORD)
        with psycopg.connect(_raw(owner), autocommit=True) as connection:
            for name in TEAM:
                connection.execute(f"CREATE ROLE {name} LOGIN PASSWORD '{name}-pw'")
        yield owner
    finally:
        postgres.stop(base)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def store(secured: str) -> Iterator[tuple[str, Login]]:
    """A fresh database, its schema made and its rules turned on by the owner, and each of
    the team granted its group: the owner's URL, and a login's URL by name."""
    owner = postgres.create_database(secured, "roles")
    with open_registry(owner, actor="owner") as registry:
        registry.register("1H")  # creates the schema
    assert cli(owner, "db", "enforce").exit_code == 0
    for name, group in TEAM.items():
        assert cli(owner, "db", "grant", name, "--as", group).exit_code == 0

    def login(name: str) -> str:
        return make_url(owner).set(username=name, password=f"{name}-pw").render_as_string(False)

    yield owner, login
    with psycopg.connect(_raw(secured), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE "{make_url(owner).database}" WITH (FORCE)')


def _raw(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def cli(url: str, *args: str, actor: str = "someone") -> Any:
    return CliRunner().invoke(app, [*args, "--store", url, "--actor", actor, "--json"])


def refused(url: str, *args: str, actor: str = "someone") -> str:
    """Run a command that the database must refuse: one line, exit 1, code forbidden."""
    result = cli(url, *args, actor=actor)
    assert result.exit_code == 1, result.output
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.output
    error: dict[str, str] = json.loads(result.stdout)["error"]
    assert error["code"] == "forbidden", error
    return error["message"]


def dump(url: str) -> tuple[Any, ...]:
    with open_registry(url) as registry:
        return tuple(registry.list()), tuple(registry.history()), tuple(registry.requests())


def asked(owner: str, login: Login, requester: str, policy: dict[str, Any]) -> str:
    """v1 champion, v2 in beta; ``requester`` asks to crown v2 under ``policy``."""
    with open_registry(owner, actor="owner") as registry:
        registry.promote("1H", 1, "beta")
        registry.promote("1H", 1, "champion")
        registry.register("1H")
        registry.promote("1H", 2, "beta")
        registry.set_policy(policy)
    with open_registry(login(requester), actor=requester) as registry:
        [request] = registry.promote("1H", 2, "champion")
        assert request.cause.value == "request"
        return request.operation_id


def test_a_requester_cannot_approve_their_own_request_by_any_route(
    store: tuple[str, Login],
) -> None:
    owner, login = store
    request = asked(owner, login, "cara", {"champion": {"approvals": 1}})
    before = dump(owner)
    said = refused(login("cara"), "approve", "--request", request, actor="bob")
    assert said == (
        f"login cara asked for this move (request {request}): the approval must come from "
        "another login"
    )
    with psycopg.connect(_raw(login("cara"))) as by_hand:  # stagekeeper skipped, SET ROLE
        by_hand.execute("SET ROLE stagekeeper_approver")
        with pytest.raises(psycopg.Error, match="login cara asked for this move"):
            by_hand.execute(
                "INSERT INTO stagekeeper_changes (operation_id, timeframe, model_name, version,"
                " from_stage, to_stage, actor, at, cause, detail) VALUES ('forged', '1H',"
                " '1H_trading_model', 2, 'beta', 'beta', 'bob', now(), 'approval',"
                f" 'request {request}: beta -> champion, 1 of 1 approvals')"
            )
    assert dump(owner) == before
    assert cli(login("bob"), "approve", "--request", request, actor="bob").exit_code == 0
    with open_registry(owner) as registry:
        assert registry.champion("1H").version == 2  # type: ignore[union-attr]


@pytest.mark.parametrize("outsider", ["ana", "vic"])
def test_a_login_outside_the_approver_group_cannot_approve(
    store: tuple[str, Login], outsider: str
) -> None:
    owner, login = store
    request = asked(owner, login, "dana", {"champion": {"approvals": 1}})
    before = dump(owner)
    said = refused(login(outsider), "approve", "--request", request, actor="carol")
    assert said.startswith(f"login {outsider} is not in the approver group") or (
        outsider == "vic" and said.startswith("this login may not do that here")
    )
    assert dump(owner) == before


def test_a_protected_stage_is_moved_into_only_by_its_group(store: tuple[str, Login]) -> None:
    owner, login = store
    with open_registry(owner, actor="owner") as registry:
        registry.promote("1H", 1, "beta")
        registry.set_policy({"champion": {"protected_by": "approver"}})
    before = dump(owner)
    said = refused(login("ana"), "promote", "--timeframe", "1H", "--model-version", "1",
                   "--target-stage", "champion", "--force", "--reason", "urgent")  # fmt: skip
    assert said == (
        "login ana may not move a version into champion: the policy protects it for the "
        "approver group (stagekeeper_approver)"
    )
    assert dump(owner) == before
    assert cli(login("bob"), "promote", "--timeframe", "1H", "--model-version", "1",
               "--target-stage", "champion").exit_code == 0  # fmt: skip
    with open_registry(owner, actor="owner") as registry:
        registry.register("1H")
        registry.promote("1H", 2, "beta")
    assert cli(login("bob"), "promote", "--timeframe", "1H", "--model-version", "2",
               "--target-stage", "champion").exit_code == 0  # fmt: skip
    before = dump(owner)
    assert "may not move a version into champion" in refused(login("ana"), "rollback",
                                                             "--timeframe", "1H")  # fmt: skip
    assert dump(owner) == before


def test_the_history_is_append_only_for_everyone_but_its_owner(store: tuple[str, Login]) -> None:
    owner, login = store
    for name in ("bob", "dana"):
        with psycopg.connect(_raw(login(name))) as by_hand:
            for statement in ("UPDATE stagekeeper_changes SET reason = 'rewritten'",
                              "DELETE FROM stagekeeper_changes"):  # fmt: skip
                with pytest.raises(psycopg.Error, match=r"history is append-only|permission"):
                    by_hand.execute(statement)
                by_hand.rollback()
    with psycopg.connect(_raw(owner)) as as_owner:
        as_owner.execute("UPDATE stagekeeper_changes SET reason = 'owner may' WHERE version = 1")
    with open_registry(owner) as registry:
        assert registry.history("1H")[0].reason == "owner may"


def test_identities_are_the_logins_the_database_checked(store: tuple[str, Login]) -> None:
    owner, login = store
    with open_registry(login("ana"), actor="bob") as registry:  # a declared name is a label
        [change] = registry.promote("1H", 1, "beta")
    assert (change.actor, change.who.name, change.who.verified) == ("bob", "ana", True)
    with open_registry(owner) as registry:
        recorded = registry.history("1H")[-1]
    assert recorded.actor == "bob"
    assert (recorded.who.name, recorded.who.source, recorded.who.verified) == (
        "ana", "postgresql", True,
    )  # fmt: skip
    with psycopg.connect(_raw(login("ana"))) as by_hand:  # a client's value is overwritten
        by_hand.execute(
            "INSERT INTO stagekeeper_changes (operation_id, timeframe, model_name, version,"
            " from_stage, to_stage, actor, at, cause, identity_name, identity_source)"
            " VALUES ('forged', '1H', '1H_trading_model', 1, 'beta', 'beta', 'x', now(),"
            " 'metrics', 'bob', 'postgresql')"
        )
    with open_registry(owner) as registry:
        forged = registry.history("1H")[-1]
    assert (forged.operation_id, forged.who.name) == ("forged", "ana")


def test_turning_the_rules_on_changes_no_data(secured: str) -> None:
    owner = postgres.create_database(secured, "untouched")
    with open_registry(owner, actor="owner") as registry:
        registry.register("1H")
        registry.promote("1H", 1, "beta", reason="before the rules")
    before = dump(owner)
    assert cli(owner, "db", "enforce").exit_code == 0
    assert cli(owner, "db", "enforce").exit_code == 0  # and again: nothing new
    assert dump(owner) == before


def test_roles_are_listed_and_a_stage_cannot_be_protected_before_the_rules_are_on(
    store: tuple[str, Login], secured: str
) -> None:
    owner, _ = store
    shown = json.loads(cli(owner, "db", "roles").stdout)["data"]
    assert shown["enforced"] is True
    assert {(m["login"], m["group"]) for m in shown["members"]} >= set(TEAM.items())
    plain = postgres.create_database(secured, "plain")
    with open_registry(plain) as registry:
        registry.register("1H")
        with pytest.raises(ValidationError, match="does not enforce groups"):
            registry.set_policy({"champion": {"protected_by": "approver"}})
        assert registry.policy_history() == []
    with open_registry("memory://") as memory, pytest.raises(ValidationError):
        memory.access()


def test_a_forbidden_write_through_the_python_api_is_a_forbidden_error(
    store: tuple[str, Login],
) -> None:
    owner, login = store
    with open_registry(login("vic")) as registry, pytest.raises(ForbiddenError):
        registry.promote("1H", 1, Stage.BETA)
    assert dump(owner)[0][0].stage is Stage.DEVELOPMENT


class EnforcedModel(RegistryModel):
    """The model-based test, as a promoter's login on a store whose rules are on."""

    url: ClassVar[str] = ""
    owner: ClassVar[str] = ""

    def open_store(self) -> Registry:
        engine = create_engine(self.owner)
        with engine.begin() as connection:  # each run starts empty (the owner may)
            connection.execute(
                text(
                    "TRUNCATE stagekeeper_metrics, stagekeeper_policies, stagekeeper_changes, "
                    "stagekeeper_versions, stagekeeper_timeframes"
                )
            )
        engine.dispose()
        return open_registry(self.url, actor="ana")


@pytest.fixture
def _enforced(store: tuple[str, Login]) -> None:
    owner, login = store
    EnforcedModel.owner, EnforcedModel.url = owner, login("ana")


TestTheModelHoldsWithTheRulesOn = pytest.mark.usefixtures("_enforced")(EnforcedModel.TestCase)
TestTheModelHoldsWithTheRulesOn.settings = settings(
    max_examples=5, stateful_step_count=15, deadline=None
)

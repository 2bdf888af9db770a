"""The console's HTTP API: every route's answer and every error code, in the CLI's
envelope; who may do what; the protections of the browser's session; hostile text on every
page; and the OpenAPI description, checked against the routes and the OpenAPI schema."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st
from openapi_spec_validator import validate
from starlette.testclient import TestClient

from stagekeeper import open_registry
from stagekeeper.service.registry import Registry
from stagekeeper.web.app import create_app
from stagekeeper.web.auth import CSRF_COOKIE, SESSION_COOKIE, Settings
from stagekeeper.web.console import STATUS
from stagekeeper.web.openapi import OPERATIONS
from tests.fuzzing import TALLY, VALUES, fuzz_settings, seeded

HOSTILE = "<script>alert(1)</script> \u202eevil [b]x[/b] \"quote'"


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[Registry]:
    with open_registry(f"sqlite:///{tmp_path / 'console.db'}", actor="setup") as registry:
        registry.register("1H", source=HOSTILE, metrics={"sharpe": 1.2}, reason=HOSTILE)
        registry.promote("1H", 1, "beta")
        registry.promote("1H", 1, "champion", reason=HOSTILE)
        registry.register("1H", metrics={"sharpe": 1.5})
        registry.promote("1H", 2, "beta")
        yield registry


@pytest.fixture
def tokens(registry: Registry) -> dict[str, str]:
    team = (("vic", "viewer"), ("ana", "promoter"), ("bob", "approver"), ("dee", "admin"))
    return {user: registry.create_token(user, role)[0] for user, role in team}


def client(registry: Registry, **settings: Any) -> TestClient:
    return TestClient(create_app(registry, Settings(**settings)), raise_server_exceptions=False)


def as_(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def error(answer: Any, status: int, code: str) -> str:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert set(body) == {"error"} and body["error"]["code"] == code, body
    return str(body["error"]["message"])


def test_reads_answer_in_the_clis_envelope(registry: Registry, tokens: dict[str, str]) -> None:
    api, who = client(registry), as_(tokens["vic"])
    [status] = api.get("/api/v1/status", headers=who).json()["data"]
    assert (status["timeframe"], status["champion"]) == ("1H", 1)
    listed = api.get("/api/v1/timeframes/1H/versions?stage=beta", headers=who).json()["data"]
    assert [v["version"] for v in listed] == [2]
    one = api.get("/api/v1/timeframes/1H/versions/2", headers=who).json()["data"]
    assert (one["stage"], one["metrics"]) == ("beta", {"sharpe": 1.5})
    verdict = api.get("/api/v1/timeframes/1H/versions/2/check?stage=champion", headers=who)
    assert verdict.json()["data"]["allowed"] is True
    history = api.get("/api/v1/history?timeframe=1H", headers=who).json()["data"]
    assert history[0]["reason"] == HOSTILE and history[-1]["to_stage"] == "beta"
    events = api.get("/api/v1/events", headers=who).json()["data"]
    resumed = api.get(f"/api/v1/events?since={events['events'][1]['cursor']}", headers=who)
    assert len(resumed.json()["data"]["events"]) == len(events["events"]) - 2
    assert api.get("/api/v1/requests", headers=who).json() == {"data": []}
    assert api.get("/api/v1/policy", headers=who).json()["data"]["policy"] == {}


def test_a_promotion_that_needs_approval_is_pending_then_approved_by_another_user(
    registry: Registry, tokens: dict[str, str]
) -> None:
    api = client(registry)
    policy = {"policy": {"champion": {"approvals": 1}}, "reason": "four eyes"}
    assert api.put("/api/v1/policy", headers=as_(tokens["dee"]), json=policy).status_code == 200
    asked = api.post("/api/v1/timeframes/1H/versions/2/promote", headers=as_(tokens["bob"]),
                     json={"stage": "champion", "reason": "better"}).json()["data"]  # fmt: skip
    assert asked["status"] == "pending" and asked["request"]["requester"] == "bob"
    request = asked["request"]["id"]
    said = error(api.post(f"/api/v1/requests/{request}/approve", headers=as_(tokens["bob"]),
                          json={}), 409, "transition_not_allowed")  # fmt: skip
    assert "bob asked for this move" in said
    done = api.post(f"/api/v1/requests/{request}/approve", headers=as_(tokens["dee"]), json={})
    assert done.status_code == 201
    assert registry.champion("1H").version == 2  # type: ignore[union-attr]
    who = {c.cause.value: c.who for c in registry.history("1H")}
    assert (who["request"].name, who["approval"].name) == ("bob", "dee")
    assert {who["request"].source, who["approval"].source} == {"console"}
    assert who["approval"].verified


def test_every_error_code_has_its_status(registry: Registry, tokens: dict[str, str]) -> None:
    api, ana = client(registry), as_(tokens["ana"])
    error(api.get("/api/v1/status"), 401, "unauthenticated")
    error(api.get("/api/v1/status", headers=as_("skt_0000_nope")), 401, "unauthenticated")
    error(api.post("/api/v1/requests/x/approve", headers=ana, json={}), 403, "forbidden")
    error(api.get("/api/v1/timeframes/1H/versions/9", headers=ana), 404, "not_found")
    error(api.get("/api/v1/timeframes/bad tf/versions", headers=ana), 400, "invalid_input")
    error(api.post("/api/v1/timeframes/1H/versions/2/promote", headers=ana, content=b"{nope"),
          400, "invalid_input")  # fmt: skip
    registry.register("1H")
    error(api.post("/api/v1/timeframes/1H/versions/3/promote", headers=ana,
                   json={"stage": "champion"}), 409, "transition_not_allowed")  # fmt: skip
    registry.set_policy({"champion": {"require": ["sharpe >= 9"]}})
    error(api.post("/api/v1/timeframes/1H/versions/2/promote", headers=ana,
                   json={"stage": "champion"}), 409, "gate_failed")  # fmt: skip
    error(api.put("/api/v1/policy", headers=ana, json={"policy": {}}), 403, "forbidden")


def test_a_stage_the_policy_protects_is_moved_into_by_its_group_only(
    registry: Registry, tokens: dict[str, str]
) -> None:
    registry.store.roles_enforced = lambda: True  # type: ignore[attr-defined]
    registry.set_policy({"champion": {"protected_by": "approver"}})
    api = client(registry)
    said = error(api.post("/api/v1/timeframes/1H/versions/2/promote", headers=as_(tokens["ana"]),
                          json={"stage": "champion"}), 403, "forbidden")  # fmt: skip
    assert "protects it for the approver group" in said
    ok = api.post("/api/v1/timeframes/1H/versions/2/promote", headers=as_(tokens["bob"]),
                  json={"stage": "champion"})  # fmt: skip
    assert ok.status_code == 201


def test_a_refused_request_changes_nothing(registry: Registry, tokens: dict[str, str]) -> None:
    api = client(registry)
    before = (registry.list(), registry.history())
    for answer in (
        api.post("/api/v1/timeframes/1H/versions/2/promote", headers=as_(tokens["vic"]),
                 json={"stage": "champion"}),
        api.post("/api/v1/timeframes/1H/rollback", headers=as_(tokens["ana"]), json={}),
        api.post("/api/v1/timeframes/1H/versions/2/metrics", headers=as_(tokens["ana"]),
                 json={"metrics": "sharpe"}),
    ):  # fmt: skip
        assert answer.status_code >= 400
    assert (registry.list(), registry.history()) == before


def test_an_expired_token_signs_nobody_in(registry: Registry) -> None:
    import time

    given, _ = registry.create_token("eve", "admin", expires="1s")
    api = client(registry)
    assert api.get("/api/v1/status", headers=as_(given)).status_code == 200
    time.sleep(1.1)
    error(api.get("/api/v1/status", headers=as_(given)), 401, "unauthenticated")


def test_a_revoked_token_and_a_forged_proxy_header_sign_nobody_in(
    registry: Registry, tokens: dict[str, str]
) -> None:
    [kept] = [t for t in registry.tokens() if t.user == "ana"]
    registry.revoke_token(kept.id)
    api = client(registry, proxy_header="X-Forwarded-User", trusted_proxies=frozenset({"10.9.9.9"}))
    error(api.get("/api/v1/status", headers=as_(tokens["ana"])), 401, "unauthenticated")
    forged = api.get("/api/v1/status", headers={"X-Forwarded-User": "dee"})
    error(forged, 401, "unauthenticated")  # the test client calls from an untrusted address
    trusted = client(registry, proxy_header="X-Forwarded-User",
                     trusted_proxies=frozenset({"testclient"}))  # fmt: skip
    assert trusted.get("/api/v1/status", headers={"X-Forwarded-User": "dee"}).status_code == 200


def test_a_browser_signs_in_with_a_token_and_posts_only_with_its_csrf_token(
    registry: Registry, tokens: dict[str, str]
) -> None:
    browser = client(registry)
    page = browser.get("/sign-in")
    csrf = browser.cookies[CSRF_COOKIE]
    assert (
        "HttpOnly" in page.headers["set-cookie"] and "SameSite=strict" in page.headers["set-cookie"]
    )
    signed = browser.post("/sign-in", data={"token": tokens["ana"], "csrf": csrf},
                          follow_redirects=False)  # fmt: skip
    assert signed.status_code == 303 and SESSION_COOKIE in signed.headers["set-cookie"]
    form = {"tf": "1H", "n": "2", "stage": "champion", "back": "/"}
    forged = browser.post(
        "/actions/promote", data={**form, "csrf": "guess"}, follow_redirects=False
    )
    assert "out+of+date+or+from+another+site" in forged.headers["location"]
    assert registry.champion("1H").version == 1  # type: ignore[union-attr]
    made = browser.post("/actions/promote", data={**form, "csrf": csrf}, follow_redirects=False)
    assert "is+champion+now" in made.headers["location"]
    api = browser.post("/api/v1/timeframes/1H/rollback", json={})  # cookie, no CSRF header
    error(api, 400, "invalid_input")


def test_failed_sign_ins_are_limited(registry: Registry, tokens: dict[str, str]) -> None:
    browser = client(registry)
    browser.get("/sign-in")
    csrf = browser.cookies[CSRF_COOKIE]
    for _ in range(5):
        assert "unknown token" in browser.post("/sign-in", data={"token": "x", "csrf": csrf}).text
    limited = browser.post("/sign-in", data={"token": tokens["ana"], "csrf": csrf})
    assert "too many failed sign-ins" in limited.text


def test_every_page_escapes_hostile_text_and_shows_bidi_controls(
    registry: Registry, tokens: dict[str, str]
) -> None:
    api, who = client(registry), as_(tokens["dee"])
    for path in ("/", "/timeframes/1H", "/timeframes/1H/versions/1", "/requests", "/audit",
                 "/policy", "/fragments/overview"):  # fmt: skip
        page = api.get(path, headers=who)
        assert page.status_code == 200, path
        assert "<script>alert" not in page.text and "\u202e" not in page.text, path
        csp = page.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "⟨U+202E⟩evil" in api.get("/audit", headers=who).text


def test_the_openapi_description_matches_the_routes(registry: Registry) -> None:
    described = client(registry).get("/api/v1/openapi.json").json()
    validate(described)
    routes = [r for r in create_app(registry).routes if r.path.startswith("/api/")]
    served = {(r.path, m.lower()) for r in routes for m in r.methods or () if m != "HEAD"}
    assert served == {(path, method) for path, method, *_ in OPERATIONS}


# A megabyte is the CLI fuzz's; here it would only slow every example's repr down.
TEXT = VALUES.filter(
    lambda value: (
        len(value) < 5000
        and value.isprintable() is not None
        and "\ud800" not in value
        and "\udcff" not in value
    )
)
BODIES = st.one_of(
    st.dictionaries(
        st.sampled_from(["stage", "reason", "force", "to_version", "metrics", "policy",
                         "timeframe"]),
        st.one_of(TEXT, st.integers(), st.booleans(), st.none(),
                  st.dictionaries(TEXT, st.one_of(TEXT, st.floats()), max_size=2)),
        max_size=4,
    ),
    st.lists(TEXT, max_size=2),
    TEXT,
)  # fmt: skip
PATHS = st.sampled_from([
    "/api/v1/timeframes/{a}/versions/{b}/promote", "/api/v1/timeframes/{a}/rollback",
    "/api/v1/requests/{a}/approve", "/api/v1/requests/{a}/reject",
    "/api/v1/timeframes/{a}/versions/{b}/metrics", "/api/v1/policy",
])  # fmt: skip
SEGMENTS = st.one_of(st.sampled_from(["1H", "2", "1", "x"]), TEXT.filter(lambda v: "/" not in v))


@pytest.mark.slow
@fuzz_settings(200)
@given(path=PATHS, a=SEGMENTS, b=SEGMENTS, body=BODIES, user=st.sampled_from(
    ["vic", "ana", "bob", "dee", None]))  # fmt: skip
def test_fuzzed_api_writes_keep_the_envelope_and_change_nothing_when_refused(
    fuzz_console: tuple[TestClient, Registry, dict[str, str]],
    path: str,
    a: str,
    b: str,
    body: Any,
    user: str | None,
) -> None:
    api, registry, tokens = fuzz_console
    before = (registry.list(), registry.history(), registry.policy_history())
    url = path.format(a=quote(a, safe=""), b=quote(b, safe=""))
    headers = as_(tokens[user]) if user else {}
    method = api.put if url == "/api/v1/policy" else api.post
    # Python's json writes NaN and Infinity, which strict clients refuse to: sent as they are.
    raw = json.dumps(body).encode("utf-8")
    answer = method(url, headers={**headers, "Content-Type": "application/json"}, content=raw)
    assert answer.status_code in (200, 201, 400, 401, 403, 404, 405, 409), answer.text
    found = answer.json()
    if answer.status_code >= 400:
        assert set(found) == {"error"} and found["error"]["code"] in STATUS, found
        assert (registry.list(), registry.history(), registry.policy_history()) == before
    else:
        assert set(found) == {"data"}
    TALLY["console API writes"] += 1


@pytest.fixture(scope="module")
def fuzz_console(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[TestClient, Registry, dict[str, str]]]:
    url = f"sqlite:///{tmp_path_factory.mktemp('fuzz-console') / 'fuzz.db'}"
    with open_registry(seeded(url), actor="setup") as registry:
        team = (("vic", "viewer"), ("ana", "promoter"), ("bob", "approver"), ("dee", "admin"))
        tokens = {user: registry.create_token(user, role)[0] for user, role in team}
        yield client(registry), registry, tokens


def test_every_write_route_answers_its_success(registry: Registry, tokens: dict[str, str]) -> None:
    api, bob, ana = client(registry), as_(tokens["bob"]), as_(tokens["ana"])
    measured = api.post("/api/v1/timeframes/1H/versions/2/metrics", headers=ana,
                        json={"metrics": {"sharpe": 1.7}, "reason": "re-run"})  # fmt: skip
    assert measured.status_code == 201
    assert measured.json()["data"]["changes"][0]["cause"] == "metrics"
    registry.set_policy({"champion": {"approvals": 1}})
    asked = api.post("/api/v1/timeframes/1H/versions/2/promote", headers=ana,
                     json={"stage": "champion"}).json()["data"]  # fmt: skip
    rejected = api.post(f"/api/v1/requests/{asked['request']['id']}/reject", headers=bob,
                        json={"reason": "drawdown"})  # fmt: skip
    assert rejected.json()["data"]["changes"][0]["cause"] == "rejection"
    registry.set_policy({})
    api.post("/api/v1/timeframes/1H/versions/2/promote", headers=ana, json={"stage": "champion"})
    rolled = api.post("/api/v1/timeframes/1H/rollback", headers=ana, json={"reason": "live"})
    assert [c["cause"] for c in rolled.json()["data"]["changes"]] == ["rollback", "rollback"]
    assert registry.champion("1H").version == 1  # type: ignore[union-attr]


def test_reads_are_open_with_public_read_and_writes_never_are(registry: Registry) -> None:
    api = client(registry, public_read=True)
    assert api.get("/api/v1/status").status_code == 200
    assert api.get("/").status_code == 200
    error(api.post("/api/v1/timeframes/1H/rollback", json={}), 401, "unauthenticated")


def test_an_unavailable_store_is_503(registry: Registry, tokens: dict[str, str]) -> None:
    from stagekeeper import StoreUnreachable

    def down() -> None:
        raise StoreUnreachable("cannot reach the store")

    registry.store.status = down  # type: ignore[method-assign]
    error(client(registry).get("/api/v1/status", headers=as_(tokens["vic"])), 503,
          "store_unavailable")  # fmt: skip

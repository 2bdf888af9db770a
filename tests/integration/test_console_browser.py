"""The console in a real browser (Debian's Chromium, driven by Playwright), on SQLite and
PostgreSQL: a reviewer signs in, finds the pending request on the overview, reads the
gates on the version's review, approves, and sees the champion change; a second page sees a
promotion made from the CLI without a reload; the requester's own approval is refused in
words; at 400 px nothing overflows."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from stagekeeper import open_registry
from stagekeeper.service.registry import Registry
from stagekeeper.web.app import create_app
from stagekeeper.web.serving import Server
from tests.integration.test_timeline_report import chromium
from tests.services.network import free_port

COMMAND = str(Path(sys.executable).parent / "stagekeeper")
PAGES = ("/", "/timeframes/1H", "/timeframes/1H/versions/2", "/requests", "/audit", "/policy")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'console.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def team(store_url: str) -> Iterator[tuple[Registry, dict[str, str]]]:
    with teamed(store_url) as found:
        yield found


@contextmanager
def teamed(store_url: str) -> Iterator[tuple[Registry, dict[str, str]]]:
    """v1 champion, v2 in beta with better metrics, a policy of one approval, and bob's
    request to crown v2; the tokens of bob (who asked) and dee (who reviews)."""
    with open_registry(store_url, actor="setup") as registry:
        for number, sharpe in ((1, 1.1), (2, 1.6)):
            registry.register("1H", metrics={"sharpe": sharpe})
            registry.promote("1H", number, "beta")
        registry.promote("1H", 1, "champion")
        registry.set_policy({"champion": {"approvals": 1, "require": ["sharpe >= 1.5"]}})
        tokens = {user: registry.create_token(user, "approver")[0] for user in ("bob", "dee")}
        bob = open_registry(store_url, actor="bob")
        bob.promote("1H", 2, "champion", reason="better backtest")
        bob.close()
        yield registry, tokens


@contextmanager
def serving(registry: Registry) -> Iterator[str]:
    """A real server on 127.0.0.1, in a thread, over ``registry``'s store: its URL."""
    port = free_port()
    server = Server(create_app(registry), "127.0.0.1", port)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the console did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    assert not thread.is_alive(), "the console did not stop"


@pytest.fixture
def console(team: tuple[Registry, dict[str, str]]) -> Iterator[str]:
    with serving(team[0]) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    args = ["--no-sandbox"] if os.geteuid() == 0 else []
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium(), args=args)
        yield launched
        launched.close()


def signed_in(browser: Browser, console: str, token: str, **context: Any) -> Page:
    page = browser.new_context(**context).new_page()
    page.goto(f"{console}/sign-in")
    page.fill("input[name=token]", token)
    page.click("form.signin button")
    expect(page.locator("h1")).to_have_text("Champions")
    return page


def test_a_reviewer_approves_on_the_evidence_and_sees_the_champion_change(
    browser: Browser, console: str, team: tuple[Registry, dict[str, str]]
) -> None:
    page = signed_in(browser, console, team[1]["dee"])
    row = page.locator("tr[data-timeframe='1H']")
    expect(row.locator("td.champion")).to_contain_text("v1")
    row.get_by_role("link", name="v2 → champion").click()
    gates = page.locator("section.move[data-target='champion'] table.gates")
    expect(gates.locator("tr", has_text="sharpe >= 1.5")).to_contain_text("1.6")
    expect(gates.locator("tr.fail", has_text="approvals")).to_be_visible()
    page.locator("section.request button.approve").click()
    expect(page.locator("p.notice")).to_have_text("Approved, and the move was made.")
    page.goto(console)
    expect(page.locator("tr[data-timeframe='1H'] td.champion")).to_contain_text("v2")


def test_the_requester_cannot_approve_and_is_told_why(
    browser: Browser, console: str, team: tuple[Registry, dict[str, str]]
) -> None:
    page = signed_in(browser, console, team[1]["bob"])
    page.goto(f"{console}/timeframes/1H/versions/2")
    page.locator("section.request button.approve").click()
    expect(page.locator("p.error")).to_contain_text("bob asked for this move")
    assert team[0].champion("1H").version == 1  # type: ignore[union-attr]


def test_an_open_overview_shows_a_promotion_made_from_the_cli_without_a_reload(
    browser: Browser, console: str, team: tuple[Registry, dict[str, str]], store_url: str
) -> None:
    page = signed_in(browser, console, team[1]["dee"])
    page.evaluate("window.notReloaded = true")
    champion = page.locator("tr[data-timeframe='1H'] td.champion")
    expect(champion).to_contain_text("v1")
    subprocess.run(
        [COMMAND, "promote", "--timeframe", "1H", "--model-version", "2", "--target-stage",
         "champion", "--force", "--reason", "emergency", "--store", store_url],
        check=True, capture_output=True,
    )  # fmt: skip
    expect(champion).to_contain_text("v2", timeout=5000)  # once the CLI is done
    assert page.evaluate("window.notReloaded") is True  # the same page, not a reload


def test_no_page_overflows_at_400_pixels(
    browser: Browser, console: str, team: tuple[Registry, dict[str, str]]
) -> None:
    page = signed_in(browser, console, team[1]["dee"], viewport={"width": 400, "height": 800})
    for path in PAGES:
        page.goto(f"{console}{path}")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 400, (path, width)


@pytest.mark.postgres
def test_two_servers_over_one_store_each_see_the_others_commits(
    browser: Browser, postgres_url: str
) -> None:
    with (
        teamed(postgres_url) as team,
        open_registry(postgres_url) as other,
        serving(team[0]) as first,
        serving(other) as second,
    ):
        page = signed_in(browser, first, team[1]["dee"])
        champion = page.locator("tr[data-timeframe='1H'] td.champion")
        expect(champion).to_contain_text("v1")
        [request] = team[0].requests("1H")
        approval = urllib.request.Request(
            f"{second}/api/v1/requests/{request.id}/approve", data=json.dumps({}).encode(),
            headers={"Authorization": f"Bearer {team[1]['dee']}",
                     "Content-Type": "application/json"}, method="POST",
        )  # fmt: skip
        with urllib.request.urlopen(approval, timeout=30) as answer:
            assert answer.status == 201
        expect(champion).to_contain_text("v2", timeout=5000)  # made on the other server
        status = urllib.request.Request(
            f"{first}/api/v1/status", headers={"Authorization": f"Bearer {team[1]['dee']}"}
        )
        with urllib.request.urlopen(status, timeout=30) as answer:
            assert json.load(answer)["data"][0]["champion"] == 2

"""The HTML timeline report, opened in a real headless browser (Debian's Chromium, which
``.ci/run`` installs): it renders offline, with the chart and the expected rows."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from stagekeeper import open_registry

COMMAND = str(Path(sys.executable).parent / "stagekeeper")


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("CI must provide Chromium (.ci/run installs it)")
        pytest.skip("no Chromium here: apt-get install -y chromium (CI installs it)")
    return found


def browse(
    browser: str, page: Path, tmp_path: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1280,1400", *args,
         page.as_uri()],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "no_proxy": "*"},
    )  # fmt: skip


def report(tmp_path: Path) -> Path:
    """The report of two timeframes: crownings, a rollback, a forced move, metrics."""
    store = f"sqlite:///{tmp_path / 'report.db'}"
    with open_registry(store, actor="ana") as registry:
        for timeframe in ("1H", "4H"):
            for sharpe in (1.2, 1.4):
                version = registry.register(timeframe, metrics={"sharpe": sharpe}).version
                registry.promote(timeframe, version, "beta")
                registry.promote(timeframe, version, "champion", reason="<b>best</b> backtest")
        registry.rollback("1H", reason="live drawdown")
        registry.set_policy({"champion": {"require": ["sharpe >= 9"]}}, timeframe="4H")
        registry.register("4H", metrics={"sharpe": 1.0})
        registry.promote("4H", 3, "beta")
        registry.promote("4H", 3, "champion", reason="overnight fix", force=True)
    page = tmp_path / "report.html"
    made = subprocess.run(
        [COMMAND, "timeline", "--format", "html", "--output", str(page), "--store", store],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert made.stdout.startswith("Wrote")
    return page


def test_the_report_renders_with_the_chart_and_the_rows(tmp_path: Path) -> None:
    browser = chromium()
    page = report(tmp_path)
    text = page.read_text(encoding="utf-8")
    assert "<script" not in text and "<link" not in text and "@import" not in text

    dom = browse(browser, page, tmp_path, "--dump-dom").stdout
    assert '<div id="timeline"><svg' in dom
    status = dom.split('<table id="status">')[1].split("</table>")[0]
    assert status.count("<tr>") == 3  # the heading and one row per timeframe
    assert "<td>1H</td><td>1H_trading_model</td><td>v1</td><td>sharpe=1.2</td>" in status
    history = dom.split('<table id="history">')[1].split("</table>")[0]
    # 7 changes per timeframe; the rollback 2; 4H's third version 4, its forced crowning too
    assert history.count("<tr>") == 1 + 7 + 7 + 2 + 4
    assert "&lt;b&gt;best&lt;/b&gt; backtest" in history  # user text is text, not markup
    assert re.search(r"<td>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d</td>", history)  # to the second
    assert "forced past: sharpe &gt;= 9" in history  # the forced move's detail

    shot = tmp_path / "shot.png"
    browse(browser, page, tmp_path, f"--screenshot={shot}")
    from matplotlib import image

    pixels = image.imread(str(shot))
    assert pixels.shape[0] >= 1000 and pixels.shape[1] >= 1200
    colours = {tuple(p) for p in pixels[::7, ::7, :3].reshape(-1, 3).round(2)}
    assert len(colours) > 20  # text, tables and the chart's bars, not a blank page


@pytest.mark.parametrize("width", [420, 1400])
def test_the_report_fits_a_phone_and_a_wide_screen(tmp_path: Path, width: int) -> None:
    from playwright.sync_api import sync_playwright

    page_file = report(tmp_path)
    args = ["--no-sandbox"] if os.geteuid() == 0 else []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium(), args=args)
        page = browser.new_page(viewport={"width": width, "height": 900})
        page.goto(page_file.as_uri())
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        for table in ("status", "history"):
            fits = "t => t.scrollWidth <= t.parentElement.clientWidth"
            fits = f"({fits})(document.getElementById('{table}'))"
            assert page.evaluate(fits), (table, width)
        chart = page.evaluate(
            "document.querySelector('#timeline svg').getBoundingClientRect().width"
        )
        body = page.evaluate("document.getElementById('timeline').clientWidth")
        assert chart >= 0.95 * body  # the chart takes the page's width, not half of it
        browser.close()

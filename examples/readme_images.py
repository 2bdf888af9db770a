"""Every picture the README shows, made again from the examples' data.

The console's main pages: runs the seed's example workflow on a throwaway SQLite store,
asks for one approval so that the review page has something to review, serves the console
on 127.0.0.1 and photographs each page with Debian's Chromium (Playwright). The champion
timeline: the policy example's run, drawn by it.

    python examples/readme_images.py [--output docs/images]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import uvicorn
from playwright.sync_api import sync_playwright

from stagekeeper import open_registry
from stagekeeper.web.app import create_app

HERE = Path(__file__).resolve().parent
PAGES = {
    "console-overview": "/",
    "console-timeframe": "/timeframes/1H",
    "console-review": "/timeframes/1H/versions/3",
    "console-audit": "/audit",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--output", type=Path, default=HERE.parent / "docs" / "images")
    output = parser.parse_args().output
    output.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        store = f"sqlite:///{Path(folder) / 'example.db'}"
        subprocess.run([sys.executable, str(HERE / "model_promotion_example.py"), "--store", store],
                       check=True, capture_output=True)  # fmt: skip
        with open_registry(store, actor="ana") as registry:
            registry.set_policy({"champion": {"approvals": 1, "require": ["accuracy >= 0.5"]}})
            token = registry.create_token("dee", "approver")[0]
            candidate = registry.register("1H", metrics={"accuracy": 0.71}).version
            registry.promote("1H", candidate, "beta")
            registry.promote("1H", candidate, "champion", reason="best backtest")
            PAGES["console-review"] = f"/timeframes/1H/versions/{candidate}"
            _photograph(registry, token, output)
    subprocess.run([sys.executable, str(HERE / "policy_example.py"), "--timeline",
                    str(output / "timeline.png")], check=True, capture_output=True)  # fmt: skip
    print(f"wrote {', '.join(PAGES)} and timeline into {output}")


def _photograph(registry: object, token: str, output: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(registry), port=port, log_level="warning"))  # type: ignore[arg-type]
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    browser_path = shutil.which("chromium") or shutil.which("chromium-browser") or "chromium"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=browser_path, args=["--no-sandbox"] if os.geteuid() == 0 else []
        )
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(f"http://127.0.0.1:{port}/sign-in")
        page.fill("input[name=token]", token)
        page.click("form.signin button")
        for name, path in PAGES.items():
            page.goto(f"http://127.0.0.1:{port}{path}")
            page.screenshot(path=str(output / f"{name}.png"), full_page=True)
        browser.close()
    server.should_exit = True


if __name__ == "__main__":
    main()

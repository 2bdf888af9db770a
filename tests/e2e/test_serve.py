"""``stagekeeper serve`` as a user runs it: the console answers on its port, and Ctrl-C
stops it even while a live page holds its event stream open (uvicorn alone would wait for
the reader to close the tab)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from stagekeeper import open_registry
from tests.services.network import free_port

COMMAND = str(Path(sys.executable).parent / "stagekeeper")


def _answering(url: str, server: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while True:
        assert server.poll() is None, server.communicate()[1]
        try:
            with urllib.request.urlopen(f"{url}/api/v1/status", timeout=5) as answer:
                assert answer.status == 200
                return
        except OSError:
            assert time.monotonic() < deadline, "the console did not start"
            time.sleep(0.1)


def test_ctrl_c_stops_the_console_while_a_live_page_is_open(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'models.db'}"
    with open_registry(store, actor="ana") as registry:
        registry.register("1H")
    url = f"http://127.0.0.1:{free_port()}"
    server = subprocess.Popen(
        [COMMAND, "serve", "--port", url.rsplit(":", 1)[1], "--public-read", "--store", store],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        _answering(url, server)
        with urllib.request.urlopen(f"{url}/api/v1/events/stream", timeout=30) as live:
            assert live.readline().startswith(b"id: ")  # the registration, as it streams
            server.send_signal(signal.SIGINT)
            out, err = server.communicate(timeout=30)  # not until the reader goes away
    finally:
        server.kill()
    assert server.returncode == 0
    assert (out, err) == ("", "")

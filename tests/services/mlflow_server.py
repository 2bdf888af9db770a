"""A real ``mlflow server`` for the tests, on 127.0.0.1 with a ``sqlite:///`` backend store."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

QUIET = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
    # Without job execution the server runs 2 processes in ~0.5 GB instead of 10 in ~2.4 GB.
    "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def running(base: Path, startup_seconds: float = 90) -> Iterator[str]:
    """Start a server storing everything under ``base``; yield its http:// URL."""
    port = _free_port()
    command = [
        str(Path(sys.executable).parent / "mlflow"), "server",
        "--host", "127.0.0.1", "--port", str(port),
        "--backend-store-uri", f"sqlite:///{base / 'mlflow.db'}",
        "--artifacts-destination", str(base / "artifacts"),
        "--workers", "1",
    ]  # fmt: skip
    log = (base / "server.log").open("w")
    server = subprocess.Popen(
        command, env={**os.environ, **QUIET}, stdout=log, stderr=subprocess.STDOUT, cwd=base
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, server, time.monotonic() + startup_seconds, base)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def _wait_healthy(url: str, server: subprocess.Popen[bytes], deadline: float, base: Path) -> None:
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"mlflow server exited: {(base / 'server.log').read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(
        f"mlflow server did not answer /health: {(base / 'server.log').read_text()[-2000:]}"
    )

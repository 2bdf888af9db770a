"""A real ``mlflow server`` for the tests, on 127.0.0.1 with a ``sqlite:///`` backend store."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.services.network import free_port

QUIET = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
    # Without job execution the server runs 2 processes in ~0.5 GB instead of 10 in ~2.4 GB.
    "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
}


ADMIN, ADMIN_PASSWORD = "admin", "admin-password-1234"


@contextmanager
def running(
    base: Path, startup_seconds: float = 90, *, users: bool = False, workers: int = 1
) -> Iterator[str]:
    """Start a server storing everything under ``base``; yield its http:// URL. With
    ``users``, the server checks them (``--app-name basic-auth``): its admin is ``ADMIN``,
    and the users ``create_user`` makes may edit every model (``default_permission``).
    One worker process, for the tests; the benchmarks run MLflow's default of 4."""
    port = free_port()
    command = [
        str(Path(sys.executable).parent / "mlflow"), "server",
        "--host", "127.0.0.1", "--port", str(port),
        "--backend-store-uri", f"sqlite:///{base / 'mlflow.db'}",
        "--artifacts-destination", str(base / "artifacts"),
        "--workers", str(workers),
    ]  # fmt: skip
    env = {**os.environ, **QUIET}
    if users:
        command += ["--app-name", "basic-auth"]
        env.update(_basic_auth(base))
    log = (base / "server.log").open("w")
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=base)
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
            with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:  # open to all
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(
        f"mlflow server did not answer /health: {(base / 'server.log').read_text()[-2000:]}"
    )


def _basic_auth(base: Path) -> dict[str, str]:
    config = base / "basic_auth.ini"
    config.write_text(
        "[mlflow]\ndefault_permission = EDIT\n"
        f"database_uri = sqlite:///{base / 'basic_auth.db'}\n"
        f"admin_username = {ADMIN}\nadmin_password = {ADMIN_PASSWORD}\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
    )
    return {
        "MLFLOW_AUTH_CONFIG_PATH": str(config),
        "MLFLOW_AUTH_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "MLFLOW_FLASK_SERVER_SECRET_KEY": "stagekeeper-tests-only",
    }


def create_user(url: str, name: str, password: str) -> None:
    """A user of a server started with ``users``, made by its admin."""
    import base64
    import json

    request = urllib.request.Request(
        f"{url}/api/2.0/mlflow/users/create",
        data=json.dumps({"username": name, "password": password}).encode(),
        headers={
            "Content-Type": "application/json",
            "Authorization": "Basic "
            + base64.b64encode(f"{ADMIN}:{ADMIN_PASSWORD}".encode()).decode(),
        },
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        assert answer.status == 200

"""MLflow failures become one line and the right exit code, and fail fast."""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from mlflow.exceptions import MlflowException
from mlflow.protos import databricks_pb2
from typer.testing import CliRunner

from stagekeeper import BackendError, NotFoundError, ValidationError
from stagekeeper.cli.app import app
from stagekeeper.service.registry import Registry
from stagekeeper_mlflow.connection import translated_errors

COMMAND = str(Path(sys.executable).parent / "stagekeeper")
runner = CliRunner()


def run_cli(store: str, *args: str) -> subprocess.CompletedProcess[str]:
    # The timeout is a hang guard: MLflow's own defaults would retry for about 4 minutes.
    return subprocess.run(
        [COMMAND, *args, "--store", store, "--json"],
        capture_output=True, text=True, timeout=90, env=os.environ.copy(),
    )  # fmt: skip


class _AlwaysFails(http.server.BaseHTTPRequestHandler):
    def _fail(self) -> None:
        self.send_response(500)
        self.end_headers()

    do_GET = do_POST = do_PATCH = do_DELETE = _fail

    def log_message(self, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def failing_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _AlwaysFails)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"mlflow+http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_an_unreachable_server_exits_3_in_one_line() -> None:
    failed = run_cli("mlflow+http://127.0.0.1:9", "status")
    assert failed.returncode == 3
    assert json.loads(failed.stdout)["error"]["code"] == "store_unavailable"
    assert failed.stderr.count("\n") == 1 and "Traceback" not in failed.stderr


def test_a_server_answering_500_exits_3_and_is_not_retried_for_minutes(
    failing_server: str,
) -> None:
    failed = run_cli(failing_server, "promote", "--timeframe", "1H", "--model-version", "1",
                     "--target-stage", "beta")  # fmt: skip
    assert failed.returncode == 3
    assert failed.stderr.startswith("error: ")


def test_a_missing_model_or_version_exits_1(registry: Registry, cli_env: dict[str, str]) -> None:
    missing = runner.invoke(app, ["promote", "--timeframe", "9H", "--model-version", "1",
                                  "--target-stage", "beta", "--json"])  # fmt: skip
    assert missing.exit_code == 1
    assert json.loads(missing.stdout)["error"]["code"] == "not_found"


def test_choosing_a_version_number_is_bad_input(cli_env: dict[str, str]) -> None:
    refused = runner.invoke(app, ["register", "--timeframe", "1H", "--model-version", "4",
                                  "--source", "s3://m/1"])  # fmt: skip
    assert refused.exit_code == 2
    assert "numbers model versions itself" in refused.stderr


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("PERMISSION_DENIED", BackendError),
        ("UNAUTHENTICATED", BackendError),
        ("RESOURCE_DOES_NOT_EXIST", NotFoundError),
        ("INTERNAL_ERROR", BackendError),
    ],
)
def test_mlflow_error_codes_map_to_stagekeeper_errors(code: str, error: type) -> None:
    with (
        pytest.raises(error, match="MLflow at mlflow\\+http://h: denied"),
        translated_errors("mlflow+http://h"),
    ):
        raise MlflowException("denied\nsecond line", error_code=getattr(databricks_pb2, code))


def test_opening_other_stores_never_imports_mlflow(tmp_path: Path) -> None:
    probe = (
        "import sys; from stagekeeper import open_registry;"
        f"open_registry('sqlite:///{tmp_path / 'x.db'}').close();"
        "print('mlflow' in sys.modules)"
    )
    shown = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert shown.stdout.strip() == "False"


def test_mlflow_scheme_uses_mlflows_own_uri_resolution(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from stagekeeper import open_registry

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'own.db'}")
    with open_registry("mlflow://") as registry:
        registry.register("1H", source="s3://models/1")
        assert [v.version for v in registry.list("1H")] == [1]
    with pytest.raises(ValidationError, match="takes nothing after the scheme"):
        open_registry("mlflow://somewhere")


def test_a_model_name_template_with_quotes_is_refused(mlflow_sqlite_url: str) -> None:
    from stagekeeper import open_registry

    with pytest.raises(ValidationError, match="only letters, digits"):
        open_registry(mlflow_sqlite_url, model_name_template="it's_{timeframe}")


def test_a_successful_embedded_command_prints_nothing_on_stderr(tmp_path: Path) -> None:
    """MLflow logs creating its database at INFO; a successful command stays quiet."""
    command = Path(sys.executable).parent / "stagekeeper"
    store = f"mlflow+sqlite:///{tmp_path / 'fresh.db'}"
    args = [command, "register", "--timeframe", "1H", "--source", "s3://b/m", "--store", store]
    result = subprocess.run(args, capture_output=True, text=True)
    assert result.returncode == 0 and result.stderr == ""
    assert "Registered 1H_trading_model version 1" in result.stdout


def test_reading_an_embedded_registry_that_does_not_exist_creates_nothing(
    tmp_path: Path,
) -> None:
    store = f"mlflow+sqlite:///{tmp_path / 'typo.db'}"
    result = CliRunner().invoke(app, ["list", "--store", store, "--json"])
    assert result.exit_code == 3
    assert "does not exist" in json.loads(result.stdout)["error"]["message"]
    assert not (tmp_path / "typo.db").exists()

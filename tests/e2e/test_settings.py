"""Settings in a file: ``stagekeeper.toml`` or ``[tool.stagekeeper]`` in the nearest
``pyproject.toml``; flags over the environment over the file; ``stagekeeper config``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest


def run(
    cwd: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("STAGEKEEPER_")}
    return subprocess.run(
        [sys.executable, "-m", "stagekeeper", *args], cwd=cwd, env={**clean, **(env or {})},
        capture_output=True, text=True, check=False,
    )  # fmt: skip


def data(cwd: Path, *args: str, env: dict[str, str] | None = None) -> Any:
    done = run(cwd, *args, "--json", env=env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)["data"]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A repository whose pyproject.toml names the store and the actor; the commands run
    in a directory below it."""
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "models"\n\n[tool.stagekeeper]\n'
        f'store = "sqlite:///{tmp_path / "team.db"}"\nactor = "ci-bot"\n'
        'model_name_template = "{timeframe}_fx"\n'
    )
    (tmp_path / "src" / "deep").mkdir(parents=True)
    return tmp_path / "src" / "deep"


def test_the_nearest_pyproject_names_the_store_the_actor_and_the_template(
    project: Path,
) -> None:
    version = data(project, "register", "--timeframe", "1H")
    assert version["model_name"] == "1H_fx"
    assert (project.parents[1] / "team.db").exists() and not (project / "stagekeeper.db").exists()
    assert data(project, "history")[0]["actor"] == "ci-bot"


def test_flags_win_over_the_environment_which_wins_over_the_file(project: Path) -> None:
    env = {"STAGEKEEPER_ACTOR": "env-ana"}
    data(project, "register", "--timeframe", "1H", env=env)
    data(project, "register", "--timeframe", "1H", "--actor", "flag-bo", env=env)
    assert [c["actor"] for c in data(project, "history")] == ["env-ana", "flag-bo"]
    shown = {s["name"]: s for s in data(project, "config", env=env)["settings"]}
    assert (shown["actor"]["value"], shown["actor"]["source"]) == ("env-ana", "STAGEKEEPER_ACTOR")
    assert shown["store"]["source"].endswith("pyproject.toml [tool.stagekeeper]")
    flagged = data(project, "--actor", "flag-bo", "config", env=env)["settings"]
    assert {s["name"]: s["source"] for s in flagged}["actor"] == "flag"
    assert {s["name"]: s["source"] for s in flagged}["lock_timeout"] == "default"


def test_a_stagekeeper_toml_nearer_than_the_pyproject_wins(project: Path) -> None:
    (project.parent / "stagekeeper.toml").write_text('actor = "near"\n')
    assert data(project, "config")["file"] == str(project.parent / "stagekeeper.toml")
    shown = {s["name"]: s["value"] for s in data(project, "config")["settings"]}
    assert shown["actor"] == "near" and shown["store"] == "sqlite:///stagekeeper.db"


def test_config_masks_the_password_a_file_holds_everywhere_it_could_show(tmp_path: Path) -> None:
    (tmp_path / "stagekeeper.toml").write_text(
        'store = "postgresql+psycopg://ana:hunter2@127.0.0.1:9/models"\n'
    )
    shown = run(tmp_path, "config")
    assert shown.returncode == 0 and "ana:***@127.0.0.1:9/models" in shown.stdout
    failed = run(tmp_path, "status")
    assert failed.returncode == 3
    assert "hunter2" not in failed.stdout + failed.stderr + shown.stdout + shown.stderr


@pytest.mark.parametrize(
    ("text", "said"),
    [("stor = 'x'\n", "unknown setting 'stor'"), ("store = [1]\n", "must be a string"),
     ("store = \n", "is not valid TOML")],
)  # fmt: skip
def test_a_broken_settings_file_is_one_line_naming_it(tmp_path: Path, text: str, said: str) -> None:
    (tmp_path / "stagekeeper.toml").write_text(text)
    for args in (["status"], ["config"]):
        failed = run(tmp_path, *args)
        assert failed.returncode == 2, failed.stderr
        assert failed.stderr.count("\n") == 1 and "Traceback" not in failed.stderr
        assert str(tmp_path / "stagekeeper.toml") in failed.stderr and said in failed.stderr


def test_a_password_a_settings_file_holds_is_masked_in_all_output_once_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Masked where it comes from: the file's store is a known secret from the moment the
    file is read, as the environment's is (a driver's message may quote it bare)."""
    from stagekeeper import settings
    from stagekeeper.cli import funnel

    (tmp_path / "stagekeeper.toml").write_text(
        'store = "postgresql+psycopg://ana:hunter2-secret@127.0.0.1:9/models"\n'
    )
    monkeypatch.chdir(tmp_path)

    def run() -> None:
        assert settings.resolved("store").source == str(tmp_path / "stagekeeper.toml")
        sys.stdout.write("the server said: password hunter2-secret refused\n")

    assert funnel.guarded([], run) == 0
    assert capsys.readouterr().out == "the server said: password *** refused\n"

"""The installed entry points as a user runs them: separate processes, one SQLite file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
COMMAND = Path(sys.executable).parent / "stagekeeper"


def run(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STAGEKEEPER_")}
    env["STAGEKEEPER_ACTOR"] = "e2e"
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, check=check)


def test_the_installed_command_uses_the_embedded_default_store(tmp_path: Path) -> None:
    run(tmp_path, str(COMMAND), "register", "--timeframe", "1H")
    listed = run(tmp_path, sys.executable, "-m", "stagekeeper", "list", "--json").stdout
    assert [v["version"] for v in json.loads(listed)["data"]] == [1]
    assert (tmp_path / "stagekeeper.db").exists()
    history = json.loads(run(tmp_path, str(COMMAND), "history", "--json").stdout)["data"]
    assert history[0]["actor"] == "e2e"


def test_the_seed_script_takes_the_seed_flags(tmp_path: Path) -> None:
    seed = (sys.executable, "-m", "stagekeeper.scripts.promote_model", "--timeframe", "1H")
    for _ in range(2):
        run(tmp_path, str(COMMAND), "register", "--timeframe", "1H")
    run(tmp_path, *seed, "--model-version", "1", "--target-stage", "beta",
        "--reason", "Passed initial validation")  # fmt: skip
    run(tmp_path, *seed, "--model-version", "1", "--target-stage", "champion",
        "--reason", "Best performance in backtesting")  # fmt: skip
    listed = run(tmp_path, *seed, "--list-models", "--stage", "champion").stdout
    assert "1H_trading_model" in listed and "champion" in listed
    assert "No development models" not in run(tmp_path, *seed, "--list-models", "--stage",
                                               "development").stdout  # fmt: skip
    refused = run(tmp_path, *seed, "--model-version", "2", "--target-stage", "champion",
                  check=False)  # fmt: skip
    assert refused.returncode == 1
    assert refused.stderr.startswith("error: cannot move version 2")
    assert refused.stderr.count("\n") == 1
    every = run(tmp_path, *seed, "--list-models").stdout  # no --stage: every stage
    assert "champion" in every and "development" in every


def test_the_seed_script_hints_only_at_what_exists(tmp_path: Path) -> None:
    seed = (sys.executable, "-m", "stagekeeper.scripts.promote_model", "--timeframe", "1H")
    run(tmp_path, str(COMMAND), "register", "--timeframe", "1H", "--metric", "sharpe=0.5")
    policy = tmp_path / "policy.toml"
    policy.write_text('[beta]\nrequire = ["sharpe >= 1.0"]\n')
    run(tmp_path, str(COMMAND), "policy", "set", "--file", str(policy))
    refused = run(tmp_path, *seed, "--model-version", "1", "--target-stage", "beta", check=False)
    assert refused.returncode == 1 and "sharpe >= 1.0" in refused.stderr
    assert "hint: stagekeeper check shows every gate; stagekeeper promote --force" in (
        refused.stderr
    )


def test_the_seed_script_makes_no_store_it_cannot_use(tmp_path: Path) -> None:
    seed = (sys.executable, "-m", "stagekeeper.scripts.promote_model", "--timeframe", "1H")
    for args in (("--model-version", "1", "--target-stage", "beta"), ("--list-models",)):
        failed = run(tmp_path, *seed, *args, check=False)
        assert failed.returncode == 3 and "does not exist" in failed.stderr, failed.stderr
        assert list(tmp_path.iterdir()) == []


def test_the_seed_script_refuses_incomplete_flags(tmp_path: Path) -> None:
    seed = (sys.executable, "-m", "stagekeeper.scripts.promote_model", "--timeframe", "1H")
    assert run(tmp_path, *seed, "--model-version", "1", check=False).returncode == 2
    assert run(tmp_path, *seed, "--target-stage", "beta", check=False).returncode == 2


def test_an_unreachable_store_fails_fast_with_exit_3(tmp_path: Path) -> None:
    failed = run(tmp_path, str(COMMAND), "status", "--store",
                 "postgresql+psycopg://ana:secret@127.0.0.1:9/models", check=False)  # fmt: skip
    assert failed.returncode == 3
    assert "secret" not in failed.stderr and "Traceback" not in failed.stderr


@pytest.mark.parametrize("store", [None, "memory://"])
def test_the_example_walks_through_the_seed_workflow(tmp_path: Path, store: str | None) -> None:
    args = [sys.executable, str(ROOT / "examples" / "model_promotion_example.py")]
    shown = run(tmp_path, *args, *(["--store", store] if store else [])).stdout
    assert "v2: champion -> archived  [auto-demotion]" in shown
    assert "v3: beta -> champion" in shown
    assert "champion of 1H is now v2" in shown
    assert (tmp_path / "stagekeeper.db").exists() == (store is None)


def test_a_second_run_of_the_example_shows_every_change_of_that_run(tmp_path: Path) -> None:
    example = [sys.executable, str(ROOT / "examples" / "model_promotion_example.py")]
    run(tmp_path, *example)
    shown = run(tmp_path, *example).stdout
    history = shown.split("History of this run")[1].split("Roll back")[0]
    moves = [line for line in history.splitlines() if " -> " in line]
    # 3 registrations, 5 promotions and 2 auto-demotions, one of them of the first run's champion
    assert len(moves) == 10
    assert sum("(registration)" in line for line in moves) == 3
    assert sum("(auto-demotion)" in line for line in moves) == 2


@pytest.mark.parametrize("store", [None, "sqlite:///policy.db"])
def test_the_policy_example_shows_a_refusal_a_pass_an_approval_and_a_forced_move(
    tmp_path: Path, store: str | None
) -> None:
    args = [sys.executable, str(ROOT / "examples" / "policy_example.py")]
    shown = run(tmp_path, *args, *(["--store", store] if store else [])).stdout
    assert shown.count("refused by the policy:") == 2
    assert "soak in beta: found 0s, required >= 1d" in shown
    assert "sharpe > champion.sharpe: found 0.8, required > 1.1 (champion v1)" in shown
    assert shown.count("waits for 1 approval") == 2
    assert "ben approves: v1 champion -> archived" in shown
    assert "v2 is champion, cause forced: forced past: sharpe >= 1.0: found 0.8" in shown
    trail = shown.split("== 7.")[1]
    assert [line.split()[6] for line in trail.splitlines()[1:]].count("approval") == 2

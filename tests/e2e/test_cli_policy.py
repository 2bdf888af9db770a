"""The policy commands through the CLI: metrics, policy, check, promote --dry-run/--force."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.test_cli import cli, data, error

POLICY = """
[champion]
require_reason = true
require = ["sharpe >= 1.0", "sharpe > champion.sharpe"]
"""


@pytest.fixture
def store(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'policy.db'}"


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "policy.toml"
    path.write_text(POLICY, encoding="utf-8")
    return path


def in_beta(store: str, sharpe: str) -> str:
    version = str(
        data(store, "register", "--timeframe", "1H", "--metric", f"sharpe={sharpe}")["version"]
    )
    data(
        store, "promote", "--timeframe", "1H", "--model-version", version, "--target-stage", "beta"
    )
    return version


def move(version: str, stage: str = "champion") -> tuple[str, ...]:
    return ("--timeframe", "1H", "--model-version", version, "--target-stage", stage)


def test_metrics_are_given_at_registration_and_set_later(store: str) -> None:
    version = in_beta(store, "1.2")
    shown = data(store, "metrics", "--timeframe", "1H", "--model-version", version)
    assert shown["metrics"] == {"sharpe": 1.2}
    setting = ("--set", "sharpe=1.4", "--set", "max_drawdown=0.1", "--reason", "re-run")
    after = data(store, "metrics", "--timeframe", "1H", "--model-version", version, *setting)
    assert after["metrics"] == {"max_drawdown": 0.1, "sharpe": 1.4}
    [last] = data(store, "history", "--timeframe", "1H", "--limit", "1")
    assert (last["cause"], last["detail"]) == ("metrics", "max_drawdown=0.1, sharpe=1.4 (was 1.2)")


@pytest.mark.parametrize("metric", ["sharpe", "sharpe=high", "1x=2", "sharpe=nan", "sharpe=inf"])
def test_a_bad_metric_is_a_usage_error_and_registers_nothing(store: str, metric: str) -> None:
    failure = error(store, "register", "--timeframe", "1H", "--metric", metric, exit_code=2)
    assert failure["code"] == "invalid_input"
    listed = cli(store, "list", "--json")  # the store may not even exist
    assert listed.exit_code == 3 or json.loads(listed.stdout)["data"] == []


def test_policy_set_show_and_history(store: str, policy_file: Path) -> None:
    change = data(store, "policy", "set", "--file", str(policy_file), "--reason", "team rule")
    assert change["timeframe"] is None and change["reason"] == "team rule"
    shown = data(store, "policy", "show")["policy"]
    assert shown["champion"]["require"] == ["sharpe >= 1.0", "sharpe > champion.sharpe"]
    text = cli(store, "policy", "show").stdout
    assert "require_reason = true" in text and "[champion]" in text
    [entry] = data(store, "policy", "history")
    assert entry["operation_id"] == change["operation_id"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[champion\n", "not valid TOML"),
        ('[champion]\nrequire = ["sharpe >> 1"]\n', "invalid condition"),
        ('[champion]\nsoak = "99999999999d"\n', "expected from 0s to 3650d"),
        ('[champion]\nexpires = "1000000000d"\n', "expected from 1s to 3650d"),
        ('[champion]\napprovals = 1\nexpires = "0s"\n', "expires '0s': expected from 1s"),
        ('[champion]\nsoak = "0.5s"\n', "expected a whole number and a unit"),
        ('[champion]\nsoak = "90.9m"\n', "expected a whole number and a unit"),
        ('[champion]\nsoak = "-1h"\n', "expected a whole number and a unit"),
        ('[champion]\nrequire = ["sharpe >= 1e999"]\n', "too large to compare with"),
        ('[champion]\nrequire = ["sharpe > champion.sharpe + 1e999"]\n', "too large"),
    ],
)
def test_a_bad_policy_file_is_refused_with_one_line(
    store: str, tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(content, encoding="utf-8")
    failure = error(store, "policy", "set", "--file", str(path), exit_code=2)
    assert message in failure["message"]
    missing = error(store, "policy", "set", "--file", str(tmp_path / "none.toml"), exit_code=2)
    assert "cannot read" in missing["message"]


def test_check_exits_0_only_when_the_move_would_be_allowed(store: str, policy_file: Path) -> None:
    data(store, "policy", "set", "--file", str(policy_file))
    version = in_beta(store, "1.5")
    refused = cli(store, "check", *move(version), "--json")
    assert refused.exit_code == 1
    verdict = json.loads(refused.stdout)["data"]
    assert verdict["allowed"] is False
    assert [g["gate"] for g in verdict["gates"] if not g["passed"]] == ["reason"]
    allowed = cli(store, "check", *move(version), "--reason", "best backtest", "--json")
    assert allowed.exit_code == 0 and json.loads(allowed.stdout)["data"]["allowed"] is True
    dry = cli(store, "promote", *move(version), "--dry-run")
    assert dry.exit_code == 1 and "FAIL" in dry.stdout
    assert data(store, "list", "--stage", "champion") == []


def test_a_refused_promotion_lists_every_failed_gate(store: str, policy_file: Path) -> None:
    data(store, "policy", "set", "--file", str(policy_file))
    version = in_beta(store, "0.5")
    failure = error(store, "promote", *move(version), exit_code=1)
    assert failure["code"] == "gate_failed"
    assert "reason: found none" in failure["message"]
    assert "sharpe >= 1.0: found 0.5, required >= 1" in failure["message"]
    assert data(store, "list", "--stage", "champion") == []


def test_a_forced_promotion_needs_a_reason_and_is_recorded(store: str, policy_file: Path) -> None:
    data(store, "policy", "set", "--file", str(policy_file))
    version = in_beta(store, "0.5")
    assert (
        error(store, "promote", *move(version), "--force", exit_code=2)["code"] == "invalid_input"
    )
    [change] = data(store, "promote", *move(version), "--force", "--reason", "outage")["changes"]
    assert change["cause"] == "forced"
    assert change["detail"].startswith("forced past: sharpe >= 1.0: found 0.5")


def test_a_move_waiting_for_approval_through_the_cli(store: str, tmp_path: Path) -> None:
    path = tmp_path / "approvals.toml"
    path.write_text('[beta]\napprovals = 1\nexpires = "48h"\n', encoding="utf-8")
    data(store, "policy", "set", "--file", str(path))
    version = str(data(store, "register", "--timeframe", "1H")["version"])
    asked = data(store, "promote", *move(version, "beta"), "--reason", "validated")
    assert asked["status"] == "pending"
    request = asked["request"]
    assert (request["state"], request["requester"], request["approvals_needed"]) == (
        "pending",
        "ana",
        1,
    )
    [listed] = data(store, "requests")
    assert listed["id"] == request["id"]
    own = error(store, "approve", "--request", request["id"], exit_code=1)
    assert "someone else" in own["message"]
    done = json.loads(
        cli(store, "approve", "--request", request["id"], "--json", actor="bob").stdout
    )["data"]
    assert done["status"] == "done"
    assert [c["cause"] for c in done["changes"]] == ["approval", "promotion"]
    assert data(store, "requests") == []
    assert data(store, "requests", "--all")[0]["state"] == "approved"
    unknown = error(store, "approve", "--request", "nope", exit_code=1)
    assert unknown["code"] == "not_found"


def test_reject_needs_a_reason(store: str, tmp_path: Path) -> None:
    path = tmp_path / "approvals.toml"
    path.write_text("[beta]\napprovals = 1\n", encoding="utf-8")
    data(store, "policy", "set", "--file", str(path))
    version = str(data(store, "register", "--timeframe", "1H")["version"])
    request = data(store, "promote", *move(version, "beta"))["request"]["id"]
    assert error(store, "reject", "--request", request, exit_code=2)["code"] == "invalid_input"
    rejected = json.loads(
        cli(store, "reject", "--request", request, "--reason", "no", "--json", actor="bob").stdout
    )["data"]
    assert [c["cause"] for c in rejected["changes"]] == ["rejection"]


def test_a_file_too_large_to_be_a_policy_is_refused_without_reading_it_all(store: str) -> None:
    data(store, "register", "--timeframe", "1H")
    refusal = error(store, "policy", "set", "--file", "/dev/zero", exit_code=2)
    assert refusal["message"] == "/dev/zero is larger than 1024 KiB: expected a small TOML file"
    assert data(store, "policy", "history") == []


@pytest.mark.parametrize(
    "option",
    ['url = 123', 'url = "http://127.0.0.1:1/"\ntimeout = "10"',
     'url = "http://127.0.0.1:1/"\ntimeout = -1', 'url = "http://127.0.0.1:1/"\ntimeout = nan',
     'url = "http://127.0.0.1:1/"\nretries = "3"', 'url = "http://127.0.0.1:1/"\nbackoff = "x"'],
)  # fmt: skip
def test_a_bad_sinks_file_is_a_usage_error_before_any_delivery(
    store: str, tmp_path: Path, option: str
) -> None:
    data(store, "register", "--timeframe", "1H")
    config = tmp_path / "sinks.toml"
    config.write_text(f'[sinks.hook]\ntype = "webhook"\n{option}\n', encoding="utf-8")
    refusal = error(store, "events", "deliver", "--config", str(config), exit_code=2)
    assert refusal["message"].startswith("sink hook: ")


def test_check_and_promote_agree_on_a_version_already_in_the_stage(
    store: str, policy_file: Path
) -> None:
    data(store, "policy", "set", "--file", str(policy_file))
    version = in_beta(store, "0.5")  # would fail every champion gate
    verdict = data(store, "check", *move(version, "beta"))
    assert verdict["allowed"] is True
    assert verdict["gates"] == [{"gate": "lifecycle", "passed": True, "found": "already beta",
                                 "required": "nothing to change: promote is a no-op"}]  # fmt: skip
    assert data(store, "promote", *move(version, "beta"), "--dry-run")["allowed"] is True
    assert data(store, "promote", *move(version, "beta"))["changes"] == []


def test_dry_run_with_force_is_refused_as_a_pair(store: str, policy_file: Path) -> None:
    data(store, "policy", "set", "--file", str(policy_file))
    version = in_beta(store, "0.5")
    refusal = error(store, "promote", *move(version), "--dry-run", "--force", "--reason", "x",
                    exit_code=2)  # fmt: skip
    assert "give one of the two" in refusal["message"]

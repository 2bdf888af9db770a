"""The CLI through Typer's CliRunner: JSON envelopes, exit codes and one-line errors."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner, Result

from stagekeeper import open_registry
from stagekeeper.cli.app import app

runner = CliRunner()


@pytest.fixture
def store(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cli.db'}"


def cli(store: str, *args: str, actor: str = "ana") -> Result:
    return runner.invoke(app, [*args, "--store", store, "--actor", actor])


def data(store: str, *args: str) -> Any:
    result = cli(store, *args, "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)["data"]


def error(store: str, *args: str, exit_code: int) -> dict[str, str]:
    result = cli(store, *args, "--json")
    assert result.exit_code == exit_code, result.stdout
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: ")
    assert "Traceback" not in result.stderr + result.stdout
    envelope: dict[str, dict[str, str]] = json.loads(result.stdout)
    return envelope["error"]


def crowned(store: str, timeframe: str = "1H") -> int:
    version = data(store, "register", "--timeframe", timeframe)["version"]
    for stage in ("beta", "champion"):
        move = ("--timeframe", timeframe, "--model-version", str(version), "--target-stage", stage)
        data(store, "promote", *move)
    return int(version)


def test_register_returns_the_version(store: str) -> None:
    version = data(store, "register", "--timeframe", "1H", "--source", "runs:/r1/model")
    assert set(version) == {
        "timeframe", "model_name", "version", "stage", "created_at", "updated_at", "source",
    }  # fmt: skip
    assert (version["model_name"], version["version"], version["stage"]) == (
        "1H_trading_model",
        1,
        "development",
    )
    assert version["source"] == "runs:/r1/model"
    assert version["created_at"].endswith("+00:00")


def test_promote_returns_every_change_including_the_auto_demotion(store: str) -> None:
    old = crowned(store)
    data(store, "register", "--timeframe", "1H", "--model-version", "5")
    data(store, "promote", "--timeframe", "1H", "--model-version", "5", "--target-stage", "beta")
    changes = data(
        store, "promote", "--timeframe", "1H", "--model-version", "5", "--target-stage",
        "CHAMPION", "--reason", "best backtest",
    )["changes"]  # fmt: skip
    assert [(c["version"], c["from_stage"], c["to_stage"], c["cause"]) for c in changes] == [
        (old, "champion", "archived", "auto-demotion"),
        (5, "beta", "champion", "promotion"),
    ]
    assert changes[0]["operation_id"] == changes[1]["operation_id"]
    assert {c["actor"] for c in changes} == {"ana"}
    assert set(changes[0]) == {
        "operation_id", "timeframe", "model_name", "version", "from_stage", "to_stage",
        "reason", "actor", "identity", "at", "cause", "detail",
    }  # fmt: skip


def test_people_see_the_auto_demotion_in_the_promote_table(store: str) -> None:
    crowned(store)
    data(store, "register", "--timeframe", "1H")
    cli(store, "promote", "--timeframe", "1H", "--model-version", "2", "--target-stage", "beta")
    shown = cli(
        store, "promote", "--timeframe", "1H", "--model-version", "2", "--target-stage", "champion"
    )
    assert shown.exit_code == 0
    assert "auto-demotion" in shown.stdout and "promotion" in shown.stdout


def test_a_no_op_promotion_says_so_and_returns_no_changes(store: str) -> None:
    version = crowned(store)
    move = ("--timeframe", "1H", "--model-version", str(version), "--target-stage", "champion")
    assert data(store, "promote", *move) == {"status": "done", "changes": [], "request": None}
    shown = cli(store, "promote", *move)
    assert shown.exit_code == 0 and "already champion; nothing changed" in shown.stdout


def test_list_history_and_status(store: str) -> None:
    crowned(store, "1H")
    data(store, "register", "--timeframe", "4H")
    assert [v["version"] for v in data(store, "list", "--timeframe", "1H")] == [1]
    assert data(store, "list", "--stage", "development")[0]["timeframe"] == "4H"
    history = data(store, "history", "--timeframe", "1H", "--model-version", "1")
    assert [h["to_stage"] for h in history] == ["development", "beta", "champion"]
    assert history[0]["from_stage"] is None and history[0]["cause"] == "registration"
    assert len(data(store, "history", "--limit", "2")) == 2
    assert data(store, "status") == [
        {
            "timeframe": "1H",
            "model_name": "1H_trading_model",
            "champion": 1,
            "counts": {"development": 0, "beta": 0, "champion": 1, "archived": 0},
        },
        {
            "timeframe": "4H",
            "model_name": "4H_trading_model",
            "champion": None,
            "counts": {"development": 1, "beta": 0, "champion": 0, "archived": 0},
        },
    ]


def test_every_table_labels_a_version_alike_and_drops_columns_no_row_fills(store: str) -> None:
    crowned(store, "1H")
    shown = {name: cli(store, *args).stdout for name, args in {
        "status": ("status",), "list": ("list", "--timeframe", "1H"),
        "history": ("history", "--timeframe", "1H"),
    }.items()}  # fmt: skip
    assert re.search(r"^1H +1H_trading_model +v1 ", shown["status"], re.M), shown["status"]
    for table in (shown["list"], shown["history"]):
        assert re.search(r"(^|  )1H v1  ", table, re.M), table
    assert "detail" not in shown["history"] and "reason" not in shown["history"]
    assert "source" not in shown["list"]
    data(store, "register", "--timeframe", "1H", "--source", "s3://m/2")
    filled = cli(store, "list", "--timeframe", "1H").stdout
    assert "source" in filled and "s3://m/2" in filled


def test_rollback_restores_the_previous_champion(store: str) -> None:
    first = crowned(store)
    second = crowned(store)
    changes = data(store, "rollback", "--timeframe", "1H", "--reason", "drawdown")["changes"]
    assert [(c["version"], c["to_stage"], c["cause"]) for c in changes] == [
        (second, "archived", "rollback"),
        (first, "champion", "rollback"),
    ]
    assert data(store, "rollback", "--timeframe", "1H", "--to-version", str(first)) == {
        "changes": []
    }


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("promote", "--timeframe", "1H", "--model-version", "9", "--target-stage", "beta"),
         "not_found"),
        (("promote", "--timeframe", "1H", "--model-version", "1", "--target-stage", "champion"),
         "transition_not_allowed"),
        (("register", "--timeframe", "1H", "--model-version", "1"), "conflict"),
        (("rollback", "--timeframe", "1H"), "transition_not_allowed"),
    ],
)  # fmt: skip
def test_refusals_exit_1_and_change_nothing(store: str, args: tuple[str, ...], code: str) -> None:
    data(store, "register", "--timeframe", "1H")
    before = data(store, "history")
    assert error(store, *args, exit_code=1)["code"] == code
    assert data(store, "history") == before


@pytest.mark.parametrize(
    "args",
    [
        ("register", "--timeframe", "1H/2"),
        ("promote", "--timeframe", "1H", "--model-version", "0", "--target-stage", "beta"),
        ("promote", "--timeframe", "1H", "--model-version", "1", "--target-stage", "beta",
         "--reason", "x" * 2001),
        ("history", "--limit", "0"),
    ],
)  # fmt: skip
def test_bad_input_exits_2_with_one_line(store: str, args: tuple[str, ...]) -> None:
    data(store, "register", "--timeframe", "1H")
    before = data(store, "history")
    assert error(store, *args, exit_code=2)["code"] == "invalid_input"
    assert data(store, "history") == before


def test_bad_usage_exits_2(store: str) -> None:
    result = cli(
        store, "promote", "--timeframe", "1H", "--model-version", "x", "--target-stage", "z"
    )
    assert result.exit_code == 2
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    "url", ["nosuch://x", "sqlite:////nonexistent-dir/a/b.db", "postgresql://u:pw@127.0.0.1:1/x"]
)
def test_an_unusable_store_exits_3_without_showing_a_password(url: str) -> None:
    result = runner.invoke(app, ["status", "--store", url, "--json"])
    assert result.exit_code == 3
    assert json.loads(result.stdout)["error"]["code"] == "store_unavailable"
    assert ":pw@" not in result.stdout + result.stderr
    assert result.stderr.count("\n") == 1


def test_the_store_defaults_to_stagekeeper_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STAGEKEEPER_STORE", f"sqlite:///{tmp_path / 'env.db'}")
    assert runner.invoke(app, ["register", "--timeframe", "1H"]).exit_code == 0
    assert (tmp_path / "env.db").exists()


def test_debug_shows_the_traceback_and_keeps_the_exit_code(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    quiet = runner.invoke(app, ["status", "--store", "nosuch://x"])
    monkeypatch.setenv("STAGEKEEPER_DEBUG", "1")
    debug = runner.invoke(app, ["status", "--store", "nosuch://x"])
    assert quiet.exit_code == debug.exit_code == 3
    assert "Traceback" not in quiet.stderr
    assert "Traceback" in debug.stderr and "nosuch" in debug.stderr
    assert debug.stderr.rstrip().splitlines()[-1] == quiet.stderr.rstrip()


def test_lifecycle_draws_the_machine_as_mermaid() -> None:
    result = runner.invoke(app, ["lifecycle", "--format", "mermaid"])
    assert result.exit_code == 0
    assert result.stdout.startswith("stateDiagram-v2")
    moves = json.loads(runner.invoke(app, ["lifecycle", "--json"]).stdout)["data"]["moves"]
    assert {"from": "archived", "to": "champion", "rollback_only": True} in moves


def test_db_upgrade_reports_the_schema_revision(store: str) -> None:
    assert data(store, "db", "upgrade") == {"revision": "0009"}
    memory = runner.invoke(app, ["db", "upgrade", "--store", "memory://", "--json"])
    assert json.loads(memory.stdout) == {"data": {"revision": None}}


def _all_commands(group: Any, prefix: str = "") -> list[tuple[str, Any]]:
    found: list[tuple[str, Any]] = []
    context = typer.Context(group)
    for name in group.list_commands(context):
        command = group.get_command(context, name)
        if hasattr(command, "commands"):
            found += _all_commands(command, f"{prefix}{name} ")
        else:
            found.append((prefix + name, command))
    return found


def test_every_command_and_option_has_help_text() -> None:
    commands = _all_commands(typer.main.get_command(app))
    assert {name for name, _ in commands} >= {
        "register", "promote", "list", "history", "rollback", "status", "lifecycle", "db upgrade",
    }  # fmt: skip
    for name, command in commands:
        assert command.help, name
        options = [p for p in command.params if p.param_type_name == "option" and p.name != "help"]
        assert {"--store", "--actor", "--json"} <= {o for p in options for o in p.opts}, name
        for option in options:
            assert option.help, f"{name} {option.opts}"


def test_help_lists_every_command_with_its_own_first_line() -> None:
    listing = runner.invoke(app, ["--help"], env={"COLUMNS": "250"}).stdout
    for name, command in _all_commands(typer.main.get_command(app)):
        if " " not in name:  # a group's commands are listed by the group's own help
            first_line = command.help.split("\n\n")[0].replace("\n", " ")
            assert f"{name} " in listing and first_line.split(";")[0] in listing, name


def test_help_shows_bracketed_words_as_written() -> None:
    """Help is rich markup: a bracketed word must be escaped there, or --help drops it."""
    checked = 0
    for name, command in _all_commands(typer.main.get_command(app)):
        texts = [command.help or ""] + [p.help or "" for p in command.params if hasattr(p, "help")]
        words = {w.replace("\\[", "[") for t in texts for w in re.findall(r"\\?\[[^\]\s]+\]", t)}
        if not words:
            continue
        shown = runner.invoke(app, [*name.split(), "--help"], env={"COLUMNS": "250"}).stdout
        for word in words:
            assert word in shown, (name, word)
            checked += 1
    assert checked >= 2  # stagekeeper[plot] in timeline, [sinks.<name>] in events deliver


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("db", "grant", "ana", "--as", "promoter"), "SQLite has no logins"),
        (("db", "roles"), "SQLite has no logins"),
        (("db", "enforce"), "SQLite has no logins"),
        (("db", "grant", "ana", "--as", "boss"), "unknown group 'boss'"),
    ],
)
def test_logins_and_their_rules_are_refused_where_there_are_none(
    store: str, args: tuple[str, ...], words: str
) -> None:
    data(store, "register", "--timeframe", "1H")
    assert words in error(store, *args, exit_code=2)["message"]
    memory = runner.invoke(app, ["db", "roles", "--store", "memory://", "--json"])
    assert memory.exit_code == 2
    assert "this store has no logins" in json.loads(memory.stdout)["error"]["message"]


def test_dash_h_is_help_on_every_command(store: str) -> None:
    for args in ((), ("promote",), ("policy", "set"), ("db", "grant")):
        shown = runner.invoke(app, [*args, "-h"])
        assert shown.exit_code == 0 and "Usage: stagekeeper" in shown.stdout, args


def test_near_misses_get_a_hint(store: str) -> None:
    crowned(store)
    missing = error(store, "history", "--timeframe", "1h", exit_code=1)
    assert (missing["code"], missing["hint"]) == ("not_found", "did you mean 1H?")
    assert error(store, "history", "--timeframe", "9H", exit_code=1)["message"] == (
        "this store has no timeframe 9H"
    )
    assert error(store, "list", "--timeframe", "1h", exit_code=1)["hint"] == "did you mean 1H?"
    assert data(store, "list", "--timeframe", "9H") == []  # a filter that matches nothing
    legacy = error(store, "promote", "--timeframe", "1H", "--model-version", "1",
                   "--target-stage", "Production", exit_code=2)  # fmt: skip
    assert legacy["hint"] == "MLflow's 'Production' is stagekeeper's champion"
    data(store, "register", "--timeframe", "1H")
    refused = cli(store, "check", "--timeframe", "1H", "--model-version", "2",
                  "--target-stage", "champion", "--json")  # fmt: skip
    assert refused.exit_code == 1  # a verdict, not an error
    verdict = json.loads(refused.stdout)["data"]
    assert verdict["gates"][0]["required"] == "a move to one of: beta, archived"


def test_a_request_is_named_by_a_unique_prefix_of_six_characters(store: str) -> None:
    crowned(store)
    with open_registry(store, actor="ann") as registry:
        registry.set_policy({"champion": {"approvals": 1}})
        registry.register("1H")
        registry.promote("1H", 2, "beta")
        [asked] = registry.promote("1H", 2, "champion")
    prefix = asked.operation_id[:6]
    approved = data(store, "approve", "--request", prefix)
    assert approved["changes"][-1]["to_stage"] == "champion"
    unknown = error(store, "approve", "--request", "ffffff", exit_code=1)
    assert unknown["hint"].startswith("stagekeeper requests lists them")
    short = error(store, "approve", "--request", asked.operation_id[:3], exit_code=1)
    assert short["code"] == "not_found"  # under six characters: no prefix match


def test_champion_prints_one_line_for_deploy_scripts(store: str) -> None:
    version = crowned(store)
    line = cli(store, "champion", "--timeframe", "1H")
    assert line.exit_code == 0 and line.stdout == f"{version}\n"  # no source was registered
    shown = data(store, "champion", "--timeframe", "1H")
    assert (shown["version"], shown["stage"]) == (version, "champion")
    assert error(store, "champion", "--timeframe", "4H", exit_code=1)["code"] == "not_found"


def test_leaving_a_timeframe_without_a_champion_and_rolling_back_say_so(store: str) -> None:
    first = crowned(store)
    second = crowned(store)
    rolled = cli(store, "rollback", "--timeframe", "1H")
    assert f"v{first} is champion again" in rolled.stdout and "--to-version" in rolled.stdout
    archived = cli(store, "promote", "--timeframe", "1H", "--model-version", str(first),
                   "--target-stage", "archived")  # fmt: skip
    assert "1H has no champion now." in archived.stdout
    assert second != first


def test_policy_init_prints_a_policy_that_policy_set_accepts(store: str, tmp_path: Path) -> None:
    template = runner.invoke(app, ["policy", "init"])
    assert template.exit_code == 0 and template.stdout.startswith("# A stagekeeper policy")
    written = tmp_path / "policy.toml"
    written.write_text(template.stdout, encoding="utf-8")
    data(store, "register", "--timeframe", "1H")
    assert cli(store, "policy", "set", "--file", str(written)).exit_code == 0


def test_show_gives_one_version_at_a_glance(store: str) -> None:
    data(store, "register", "--timeframe", "1H", "--metric", "sharpe=1.5", "--metric", "auc=0.7")
    for stage in ("beta", "champion"):
        data(store, "promote", "--timeframe", "1H", "--model-version", "1", "--target-stage", stage)
    data(store, "register", "--timeframe", "1H", "--metric", "sharpe=1.25", "--source", "s3://m/2")
    data(store, "promote", "--timeframe", "1H", "--model-version", "2", "--target-stage", "beta")
    with open_registry(store) as registry:
        registry.set_policy({"champion": {"require": ["sharpe > champion.sharpe"]}})
    seen = data(store, "show", "--timeframe", "1H", "--model-version", "2")
    assert (seen["version"]["stage"], seen["version"]["source"]) == ("beta", "s3://m/2")
    assert seen["champion"]["version"] == 1
    assert seen["metrics"] == [
        {"name": "auc", "value": None, "champion": 0.7, "difference": None},
        {"name": "sharpe", "value": 1.25, "champion": 1.5, "difference": -0.25},
    ]
    assert [(m["target"], m["allowed"]) for m in seen["moves"]] == [
        ("champion", False), ("development", True), ("archived", True),
    ]  # fmt: skip
    refused = [g["gate"] for g in seen["moves"][0]["gates"] if not g["passed"]]
    assert refused == ["sharpe > champion.sharpe"], seen["moves"][0]
    assert [c["to_stage"] for c in seen["history"]] == ["development", "beta"]
    alone = data(store, "show", "--timeframe", "1H", "--model-version", "1")["metrics"]
    assert {m["champion"] for m in alone} == {None}  # the champion is not set beside itself
    drawn = cli(store, "show", "--timeframe", "1H", "--model-version", "2").stdout
    assert re.search(r"^sharpe +1\.25 +1\.5 +-0\.25$", drawn, re.M), drawn
    assert "To champion: refused" in drawn and "To archived: allowed" in drawn
    assert "s3://m/2" in drawn
    assert (
        error(store, "show", "--timeframe", "1H", "--model-version", "9", exit_code=1)["code"]
        == "not_found"
    )


def test_list_with_metrics_shows_a_column_per_metric(store: str) -> None:
    data(store, "register", "--timeframe", "1H", "--metric", "sharpe=1.5", "--metric", "auc=0.7")
    data(store, "register", "--timeframe", "1H", "--metric", "sharpe=1.25")
    listed = data(store, "list", "--metrics")
    assert [v["metrics"] for v in listed] == [{"auc": 0.7, "sharpe": 1.5}, {"sharpe": 1.25}]
    assert "metrics" not in data(store, "list")[0]
    rows = cli(store, "list", "--metrics").stdout.splitlines()
    assert rows[0].split()[-2:] == ["auc", "sharpe"]
    assert rows[1].split()[-2:] == ["0.7", "1.5"] and rows[2].split()[-1] == "1.25"


def complete(words: str, env: dict[str, str] | None = None) -> list[str]:
    """What bash completion offers for the command line ``words`` (the cursor at its end)."""
    import os
    import subprocess
    import sys

    cword = len(words.split()) - (0 if words.endswith(" ") else 1)
    shown = subprocess.run(
        [sys.executable, "-m", "stagekeeper"], capture_output=True, text=True, check=True,
        env={**os.environ, **(env or {}), "_STAGEKEEPER_COMPLETE": "complete_bash",
             "COMP_WORDS": words, "COMP_CWORD": str(cword)},
    )  # fmt: skip
    return shown.stdout.split()


def test_shell_completion_offers_stages_timeframes_and_versions(store: str, tmp_path: Path) -> None:
    for timeframe in ("1H", "1H", "4H"):
        data(store, "register", "--timeframe", timeframe)
    assert complete("stagekeeper list --stage ") == ["development", "beta", "champion", "archived"]
    assert complete("stagekeeper promote --target-stage ch") == ["champion"]
    assert complete(f"stagekeeper list --store {store} --timeframe ") == ["1H", "4H"]
    here = {"STAGEKEEPER_STORE": store}
    assert complete("stagekeeper show --timeframe 1H --model-version ", here) == ["1", "2"]
    assert complete(f"stagekeeper --store {store} show --timeframe 4H --model-version ") == ["1"]
    assert complete("stagekeeper show --model-version ", here) == []  # no timeframe yet
    missing = tmp_path / "typo.db"
    assert complete(f"stagekeeper list --store sqlite:///{missing} --timeframe ") == []
    assert not missing.exists()

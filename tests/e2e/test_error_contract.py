"""The input and error contract, case by case: secrets, usage errors, limits, markup, stores.

Each case here was once seen to break; the fuzz tests (``test_fuzz_cli.py``) look for more.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy.engine import make_url
from typer.testing import CliRunner, Result

from stagekeeper import StoreUnreachable, UnsupportedStore, ValidationError, open_registry
from stagekeeper.cli.app import app
from stagekeeper.domain.redaction import Redactor, mask_credentials
from tests.fuzzing import check_contract, dump

COMMAND = Path(sys.executable).parent / "stagekeeper"


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    result = CliRunner().invoke(app, list(args), env=env)
    check_contract(list(args), result)
    return result


def refused(*args: str, exit_code: int, env: dict[str, str] | None = None) -> dict[str, str]:
    """Run with ``--json``; the error document, after checking the one-line contract."""
    result = invoke(*args, "--json", env=env)
    assert result.exit_code == exit_code, result.output
    error: dict[str, str] = json.loads(result.stdout)["error"]
    return error


@pytest.fixture
def store(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'contract.db'}"
    with open_registry(url, actor="ana") as registry:
        registry.register("1H")
    return url


# -- secrets ------------------------------------------------------------------------------

FAST_FAIL = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "2"}
SECRET_URLS = [
    "mlflow+http://bob:topsecret@127.0.0.1:1",
    "mlflow+https://bob:topsecret@127.0.0.1:1",
    "mlflow+http://bob:Abc/Secret@127.0.0.1:1",
    "postgresql+psycopg://ana@127.0.0.1:1/models?password=hunter2hunter",
    "postgresql+psycopg://user:Abc@Secret@127.0.0.1:1/models",
    "postgresql://ana:s3cr3t-pw@127.0.0.1:1/models",
    "nosuch://ana:s3cr3t-pw@db.example/models",
]


def _passwords(url: str) -> set[str]:
    """The password as the driver itself parses it, and as written."""
    found = {part for part in ("topsecret", "Abc/Secret", "hunter2hunter", "s3cr3t-pw")
             if part in url}  # fmt: skip
    if url.startswith("postgresql"):
        parsed = make_url(url)
        found |= {parsed.password or "", str(parsed.query.get("password", ""))}
        found |= {"Abc@Secret", "Secret"} if "Abc@Secret" in url else set()
    elif url.startswith("mlflow"):
        found.add(urlsplit(url.removeprefix("mlflow+")).password or "")
    return {secret for secret in found if len(secret) > 3}


@pytest.mark.parametrize("url", SECRET_URLS)
@pytest.mark.parametrize("how", ["option", "environment", "json", "debug"])
def test_no_password_is_ever_printed(url: str, how: str) -> None:
    env = dict(FAST_FAIL)
    args = ["status"]
    if how == "environment":
        env["STAGEKEEPER_STORE"] = url
    else:
        args += ["--store", url]
    if how == "json":
        args.append("--json")
    if how == "debug":
        env["STAGEKEEPER_DEBUG"] = "1"
    result = CliRunner().invoke(app, args, env=env)
    assert result.exit_code == 3
    printed = result.stdout + result.stderr
    assert "***" in printed
    for secret in _passwords(url):
        assert secret not in printed


def test_mlflow_tracking_uri_credentials_are_never_printed() -> None:
    env = {**FAST_FAIL, "MLFLOW_TRACKING_URI": "http://bob:topsecret@127.0.0.1:1"}
    result = CliRunner().invoke(app, ["status", "--store", "mlflow://", "--json"], env=env)
    assert result.exit_code == 3
    assert "topsecret" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("at http://bob:pw@h/x", "at http://bob:***@h/x"),
        ("x://u:Abc@Secret@host/p", "x://u:***@host/p"),
        ("x://u:Abc/Secret@host/p", "x://u:***@host/p"),
        ("db?password=hunter22&x=1", "db?password=***&x=1"),
        ("host=h password=abc dbname=d", "host=h password=*** dbname=d"),
        ("models:/1H_trading_model@champion", "models:/1H_trading_model@champion"),
        ("http://bob@host/x", "http://bob@host/x"),
    ],
)
def test_credentials_are_masked_in_every_url_form(text: str, shown: str) -> None:
    assert mask_credentials(text) == shown


def test_known_secrets_are_masked_where_a_driver_repeats_them_alone() -> None:
    redactor = Redactor.for_urls(["postgresql://u:Abc@Secret@host/db"])
    assert redactor("failed to resolve host 'Secret@host'") == "failed to resolve host '***@host'"


URL_LIKE_TEXT = [
    ("dashboard https://grafana:3000/d/abc", "s3://bucket/m@v1"),
    ("see http://user:not-a-secret@wiki/page", "models:/1H_trading_model@champion"),
    ("host=h password=mine in a reason", "runs:/abc/model"),
]


@pytest.mark.parametrize(("reason", "source"), URL_LIKE_TEXT)
def test_user_text_that_looks_like_a_credential_is_printed_as_written(
    store: str, reason: str, source: str
) -> None:
    """Only the secrets of the store URLs given are masked: a pattern run over whole lines
    once read from a reason's ``https://grafana:`` to a source's ``@`` on the same JSON
    line, and left a line that was no longer JSON."""
    promoted = invoke("promote", "--timeframe", "1H", "--model-version", "1", "--target-stage",
                      "beta", "--reason", reason, "--store", store, "--json")  # fmt: skip
    assert promoted.exit_code == 0, promoted.output
    assert json.loads(promoted.stdout)["data"]["changes"][0]["reason"] == reason
    with open_registry(store, actor="ana") as registry:
        crowned = registry.register("1H", source=source).version
        registry.promote("1H", crowned, "beta")
        registry.promote("1H", crowned, "champion", reason=reason)
    lines = invoke("events", "--store", store).stdout.splitlines()
    events = [json.loads(line) for line in lines]  # every line is still a JSON document
    assert [event["reason"] for event in events[1:2] + events[-1:]] == [reason, reason]
    assert events[-1]["champion"]["source"] == source
    shown = json.loads(invoke("list", "--store", store, "--json").stdout)["data"]
    assert shown[-1]["source"] == source


def test_the_store_urls_secret_is_masked_even_inside_user_text(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}?password=hunter2hunter"
    result = invoke("status", "--store", url, "--json")
    assert "hunter2hunter" not in result.stdout + result.stderr


# -- usage errors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("promote", "--timeframe", "1H", "--model-version", "1", "--target-stage", "prod"),
         "unknown stage 'prod': expected one of development, beta, champion, archived"),
        (("promote", "--timeframe", "1H", "--model-version", "abc", "--target-stage", "beta"),
         "invalid model version 'abc'"),
        (("history", "--limit", "many"), "invalid limit 'many'"),
        (("lifecycle", "--format", "svg"), "unknown format 'svg'"),
        (("timeline", "--format", "gif"),
         "unknown format 'gif': expected one of table, mermaid, svg, png, html"),
        (("events", "--interval", "abc"), "invalid interval 'abc': expected seconds from 0.1"),
        (("events", "deliver", "--config", "x.toml", "--interval", "nan"), "invalid interval"),
    ],
)  # fmt: skip
def test_bad_values_are_refused_in_stagekeeper_words(
    store: str, args: tuple[str, ...], words: str
) -> None:
    error = refused(*args, "--store", store, exit_code=2)
    assert error["code"] == "invalid_input"
    assert words in error["message"]
    assert "Value error" not in error["message"] and "Input should" not in error["message"]


def test_a_mistyped_option_is_a_usage_error_with_a_suggestion(store: str) -> None:
    args = ("promote", "--timeframe", "1H", "--model-vrsion", "1", "--target-stage", "beta")
    error = refused(*args, "--store", store, exit_code=2)
    assert error["code"] == "usage"
    assert error["message"] == "No such option: --model-vrsion"
    assert error["hint"] == "did you mean --model-version?"


@pytest.mark.parametrize(
    "args",
    [
        ("promote", "--timeframe", "1H"),
        ("nosuch",),
        ("status", "--json=true"),
        ("db",),
        ("status", "extra"),
    ],
)
def test_every_usage_error_is_one_line_and_exit_2(store: str, args: tuple[str, ...]) -> None:
    plain = invoke(*args, "--store", store)
    assert plain.exit_code == 2
    assert plain.stderr.startswith("error: ") and plain.stderr.count("\n") == 1
    assert "╭" not in plain.stderr and "Usage:" not in plain.stderr


@pytest.mark.parametrize("group", ["policy", "db", "events deliver"])
def test_a_group_without_its_command_prints_only_the_error_document(store: str, group: str) -> None:
    result = invoke("--json", "--store", store, *group.split())
    assert result.exit_code == 2
    assert set(json.loads(result.stdout)) == {"error"}  # no help panel before it
    assert "Usage:" not in result.stdout + result.stderr


def test_json_before_the_command_counts(store: str) -> None:
    result = invoke("--json", "status", "--store", store)
    assert result.exit_code == 0 and json.loads(result.stdout)["data"][0]["timeframe"] == "1H"
    failed = invoke("--json", "promote", "--timeframe", "1H", "--store", store)
    assert failed.exit_code == 2
    assert json.loads(failed.stdout)["error"]["code"] == "usage"


def test_stages_and_versions_ignore_surrounding_space_in_the_cli_and_the_api(
    store: str,
) -> None:
    promoted = invoke("promote", "--timeframe", "1H", "--model-version", " 1",
                      "--target-stage", "Beta ", "--store", store, "--json")  # fmt: skip
    assert json.loads(promoted.stdout)["data"]["changes"][0]["to_stage"] == "beta"
    with open_registry(store) as registry:
        registry.register("1H")
        assert registry.promote("1H", " 2 ", "Beta ")[0].to_stage.value == "beta"


# -- limits -------------------------------------------------------------------------------

TOO_BIG = "9223372036854775808"


@pytest.mark.parametrize(
    "args",
    [
        ("promote", "--timeframe", "1H", "--model-version", TOO_BIG, "--target-stage", "beta"),
        ("promote", "--timeframe", "1H", "--model-version", "2147483648", "--target-stage",
         "beta"),
        ("register", "--timeframe", "1H", "--model-version", "2147483648"),
        ("history", "--model-version", TOO_BIG),
        ("register", "--timeframe", "1H", "--reason", "bad \udcff byte"),
        ("register", "--timeframe", "1H", "--actor", "bad \udcff byte"),
        ("register", "--timeframe", "1H", "--source", "bad \udcff byte"),
        ("register", "--timeframe", "1H", "--actor", "a" * 300),
        ("register", "--timeframe", "1H", "--reason", "nul \x00 byte"),
        ("register", "--timeframe", "1H", "--source", "s" * 2001),
    ],
)  # fmt: skip
def test_values_past_a_limit_exit_2_and_change_nothing(store: str, args: tuple[str, ...]) -> None:
    before = dump(store)
    assert refused(*args, "--store", store, exit_code=2)["code"] == "invalid_input"
    assert dump(store) == before


@pytest.mark.postgres
@pytest.mark.parametrize(
    "args",
    [
        ("promote", "--timeframe", "1H", "--model-version", "2147483648", "--target-stage",
         "beta"),
        ("register", "--timeframe", "1H", "--actor", "a" * 300),
        ("register", "--timeframe", "1H", "--reason", "nul \x00 byte"),
    ],
)  # fmt: skip
def test_postgres_refuses_the_same_values_with_exit_2(
    postgres_url: str, args: tuple[str, ...]
) -> None:
    with open_registry(postgres_url) as registry:
        registry.register("1H")
    before = dump(postgres_url)
    assert refused(*args, "--store", postgres_url, exit_code=2)["code"] == "invalid_input"
    assert dump(postgres_url) == before


@pytest.mark.parametrize(
    "template",
    [
        "{timeframe}{timeframe.x}",
        "{timeframe}{timeframe[1]}",
        "{timeframe}{timeframe:>200000000}",
        "{timeframe}_" + "m" * 250,
        "{timeframe}{timeframe}",
        "models/{timeframe}",
        "no_placeholder",
    ],
)
def test_a_bad_model_name_template_is_refused_when_the_registry_opens(
    store: str, template: str
) -> None:
    env = {"STAGEKEEPER_MODEL_NAME_TEMPLATE": template}
    assert refused("status", "--store", store, exit_code=2, env=env)["code"] == "invalid_input"
    with pytest.raises(ValidationError):
        open_registry(store, model_name_template=template)


@pytest.mark.parametrize(
    ("call", "value"),
    [
        ("version", 9223372036854775808),
        ("version", 2**31),
        ("reason", "\udcff"),
        ("actor", "\udcff"),
        ("source", "nul\x00"),
        ("actor", "a" * 256),
    ],
)
def test_the_python_api_raises_validation_error_for_the_same_values(
    call: str, value: object
) -> None:
    registry = open_registry("memory://")
    registry.register("1H")
    calls = {
        "version": lambda: registry.promote("1H", value, "beta"),  # type: ignore[arg-type]
        "source": lambda: registry.register("1H", source=value),  # type: ignore[arg-type]
    }
    attempt = calls.get(call, lambda: registry.promote("1H", 1, "beta", **{call: value}))  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        attempt()
    assert registry.get("1H", 1).stage.value == "development"


# -- internal errors and debug ------------------------------------------------------------


def test_a_bug_exits_4_with_code_internal(store: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from stagekeeper.service.registry import Registry

    def broken(*_: object, **__: object) -> None:
        raise KeyError("a bug")

    monkeypatch.setattr(Registry, "status", broken)
    result = CliRunner().invoke(app, ["status", "--store", store, "--json"])
    assert result.exit_code == 4
    error = json.loads(result.stdout)["error"]
    assert error["code"] == "internal" and "KeyError" in error["message"]
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "exit_code"),
    [
        (("promote", "--timeframe", "1H", "--model-version", "0", "--target-stage", "beta"), 2),
        (("promote", "--timeframe", "1H", "--model-version", "7", "--target-stage", "beta"), 1),
        (("promote", "--timeframe", "1H", "--bogus"), 2),
    ],
)
def test_debug_keeps_the_exit_code(store: str, args: tuple[str, ...], exit_code: int) -> None:
    result = CliRunner().invoke(app, [*args, "--store", store], env={"STAGEKEEPER_DEBUG": "1"})
    assert result.exit_code == exit_code
    assert "Traceback" in result.stderr


# -- markup -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "text"),
    [
        ("--reason", "fixes [/] bug"),
        ("--actor", "[blink red]mallory[/]"),
        ("--reason", "[link=https://evil.example]click[/link]"),
        ("--reason", "[bold]loud[/bold] :smile:"),
    ],
)
def test_user_text_is_drawn_as_data_never_as_markup(store: str, option: str, text: str) -> None:
    moved = invoke("promote", "--timeframe", "1H", "--model-version", "1",
                   "--target-stage", "beta", option, text, "--store", store)  # fmt: skip
    assert moved.exit_code == 0
    assert text in moved.stdout
    shown = invoke("history", "--store", store)
    assert shown.exit_code == 0 and text in shown.stdout


# -- stores -------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///", "sqlite:///:memory:"])
def test_in_memory_sqlite_is_refused_with_a_hint(url: str) -> None:
    error = refused("register", "--timeframe", "1H", "--store", url, exit_code=3)
    assert "in-memory" in error["message"] and "memory://" in error["hint"]
    with pytest.raises(UnsupportedStore):
        open_registry(url)


@pytest.mark.parametrize("command", ["list", "status", "history", "doctor"])
def test_reading_a_database_that_does_not_exist_creates_nothing(in_tmp: Path, command: str) -> None:
    error = refused(command, "--store", "sqlite:///typo.db", exit_code=3)
    assert error["message"] == "SQLite database typo.db does not exist"
    assert not (in_tmp / "typo.db").exists()
    with pytest.raises(StoreUnreachable):
        open_registry("sqlite:///typo.db", create=False)
    assert invoke("register", "--timeframe", "1H", "--store", "sqlite:///typo.db").exit_code == 0
    assert (in_tmp / "typo.db").exists()


def test_a_missing_folder_is_told_in_stagekeeper_words(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'no' / 'such' / 'folder.db'}"
    error = refused("register", "--timeframe", "1H", "--store", url, exit_code=3)
    assert error["message"].startswith("cannot open SQLite database")
    assert "folder exists" in error["hint"]


def test_a_full_disk_is_told_in_stagekeeper_words(tmp_path: Path) -> None:
    from sqlalchemy import event

    url = f"sqlite:///{tmp_path / 'full.db'}"
    registry = open_registry(url)
    registry.register("1H")
    pages = registry.store.engine.connect().exec_driver_sql("PRAGMA page_count").scalar()  # type: ignore[attr-defined]
    registry.store.engine.dispose()  # type: ignore[attr-defined]
    event.listen(  # the disk is "full" one page past the file's present size
        registry.store.engine,  # type: ignore[attr-defined]
        "connect",
        lambda connection, _: connection.execute(f"PRAGMA max_page_count={pages + 1}"),
    )

    def fill() -> None:
        for _ in range(50):
            registry.register("1H", reason="r" * 2000)

    with pytest.raises(StoreUnreachable, match="is full") as full:
        fill()
    assert full.value.hint and "free some space" in full.value.hint


def test_an_upper_case_scheme_works(in_tmp: Path) -> None:
    assert invoke("register", "--timeframe", "1H", "--store", "SQLITE:///up.db").exit_code == 0
    assert (in_tmp / "up.db").exists()


def test_a_missing_driver_names_the_extra_to_install() -> None:
    probe = (
        "import sys; sys.modules['psycopg'] = None\n"
        "from stagekeeper.cli.app import main\n"
        "sys.argv = ['stagekeeper', 'status', '--store', 'postgresql://u@127.0.0.1:1/x']\n"
        "main()\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.returncode == 3
    assert "the driver for postgresql+psycopg is not installed" in result.stderr
    assert "pip install 'stagekeeper-sql[postgresql]'" in result.stderr
    assert result.stderr.count("\n") == 1


# -- what a new user meets ----------------------------------------------------------------


def test_flags_are_shown_without_a_value() -> None:
    for args in (["register", "--help"], ["doctor", "--help"], ["mlflow", "migrate-stages",
                                                               "--help"]):  # fmt: skip
        shown = CliRunner().invoke(app, args, env={"COLUMNS": "200"}).stdout
        for line in shown.splitlines():
            if any(flag in line for flag in ("--json ", "--fix ", "--dry-run ")):
                assert "<bool>" not in line, line


def test_help_texts_say_what_each_option_does_where_it_is() -> None:
    register = CliRunner().invoke(app, ["register", "--help"], env={"COLUMNS": "200"}).stdout
    assert "Version number to register" in register and "Only this model version" not in register
    assert "mlflow+http://" in register
    assert "Who makes the change" not in CliRunner().invoke(app, ["list", "--help"]).stdout


def test_the_status_table_names_each_column_once(store: str) -> None:
    header = invoke("status", "--store", store).stdout.splitlines()[0]
    names = re.split(r"\s{2,}", header.strip())
    assert len(names) == len(set(names)) and "champion" in names


def test_version_and_completion_are_available() -> None:
    from importlib.metadata import version

    shown = invoke("--version")
    assert shown.exit_code == 0 and shown.stdout == f"stagekeeper {version('stagekeeper')}\n"
    assert "--show-completion" in CliRunner().invoke(app, ["--help"]).stdout


def test_help_piped_to_a_file_succeeds(tmp_path: Path) -> None:
    with (tmp_path / "help.txt").open("w") as out:
        result = subprocess.run([COMMAND, "--help"], stdout=out, stderr=subprocess.PIPE)
    assert result.returncode == 0 and result.stderr == b""
    assert "register" in (tmp_path / "help.txt").read_text()


def test_an_invalid_utf8_actor_from_the_environment_exits_2(tmp_path: Path) -> None:
    env = {b"STAGEKEEPER_ACTOR": b"bad \xff byte", b"PATH": b"/usr/bin:/bin"}
    url = f"sqlite:///{tmp_path / 'env.db'}".encode()
    result = subprocess.run(
        [bytes(COMMAND), b"register", b"--timeframe", b"1H", b"--store", url],
        env=env,
        capture_output=True,
    )
    assert result.returncode == 2
    assert result.stderr.startswith(b"error: invalid actor") and result.stderr.count(b"\n") == 1

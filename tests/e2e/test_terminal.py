"""The CLI in a real terminal (a pseudo-terminal of a given width) and in a pipe: tables that
fit without cutting a date or a number, records when they cannot, stages in colour unless
NO_COLOR, plain full rows in a pipe, and long output through the pager."""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest
from rich.cells import cell_len

ANSI = re.compile(r"\x1b\[[0-9;]*m")
LONG_REASON = "the holdout window of last week beat the champion on every metric we track " * 2


def terminal(
    args: list[str], env: dict[str, str], columns: int = 80, cwd: Path | None = None
) -> str:
    """What ``stagekeeper ARGS`` shows in a terminal ``columns`` wide, escape codes kept."""
    leader, follower = os.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 60, columns, 0, 0))
    process = subprocess.Popen(
        [sys.executable, "-m", "stagekeeper", *args],
        stdin=follower, stdout=follower, stderr=follower, env=env, close_fds=True, cwd=cwd,
    )  # fmt: skip
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        chunks.append(chunk)
    assert process.wait(timeout=60) == 0, b"".join(chunks).decode()
    os.close(leader)
    return b"".join(chunks).decode().replace("\r\n", "\n")


def piped(args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "stagekeeper", *args], env=env, capture_output=True, text=True,
        check=True,
    )  # fmt: skip
    return done.stdout


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A store with what makes tables wide: two timeframes, metrics, a long reason, a
    verbose actor, a source and a request waiting for approval; made once for the module."""
    folder = tmp_path_factory.mktemp("terminal")
    keep = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "NO_COLOR")}
    env = {**keep, "STAGEKEEPER_STORE": f"sqlite:///{folder / 't.db'}", "TERM": "xterm",
           "STAGEKEEPER_ACTOR": "alexandra.kowalczyk", "PAGER": "cat"}  # fmt: skip
    for timeframe in ("1H", "4H"):
        for sharpe in ("1.3312", "1.41"):
            metrics = ["--metric", f"sharpe={sharpe}", "--metric", "max_drawdown=0.0871"]
            piped(["register", "--timeframe", timeframe, "--source", "s3://models/run-0042",
                   *metrics], env)  # fmt: skip
    piped(["promote", "--timeframe", "1H", "--model-version", "2", "--target-stage", "beta",
           "--reason", LONG_REASON], env)  # fmt: skip
    policy = folder / "policy.toml"
    policy.write_text("[champion]\napprovals = 1\n")
    piped(["policy", "set", "--file", str(policy), "--timeframe", "4H"], env)
    for stage in ("beta", "champion"):
        piped(["promote", "--timeframe", "4H", "--model-version", "1", "--target-stage", stage],
              env)  # fmt: skip
    return env


@pytest.fixture
def env(seeded: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """The seeded store, a copy of its own for each test (one promotes)."""
    shutil.copy(seeded["STAGEKEEPER_STORE"].removeprefix("sqlite:///"), tmp_path / "t.db")
    return {**seeded, "STAGEKEEPER_STORE": f"sqlite:///{tmp_path / 't.db'}"}


def shown(text: str) -> str:
    """The text a reader sees: no escape codes, no trailing blanks."""
    return "\n".join(line.rstrip() for line in ANSI.sub("", text).splitlines())


@pytest.mark.parametrize(
    "args",
    [["history"], ["list"], ["status"], ["requests"],
     ["promote", "--timeframe", "1H", "--model-version", "2", "--target-stage", "champion"]],
)  # fmt: skip
def test_an_80_column_terminal_cuts_no_date_and_no_number(
    env: dict[str, str], args: list[str]
) -> None:
    history = json.loads(piped(["history", "--json"], env))["data"]
    drawn = shown(terminal(args, env, columns=80))
    assert "…" not in drawn, drawn
    assert all(cell_len(line) <= 80 for line in drawn.splitlines()), drawn
    words = set(drawn.split())
    if args[0] == "history":
        for change in history:
            day, time = change["at"][:10], change["at"][11:19]
            assert {day, time} <= words, (day, time, drawn)
            assert f"{change['timeframe']} v{change['version']}" in drawn
        assert {"sharpe=1.3312,", "max_drawdown=0.0871,", "sharpe=1.41"} & words, drawn
    if args[0] == "list":
        assert {"1H", "4H", "v1", "v2", "development", "beta"} <= words, drawn
    if args[0] == "promote":
        assert {"1H", "v2", "beta", "champion", "promotion"} <= words, drawn


def test_a_table_too_wide_for_the_terminal_becomes_records(env: dict[str, str]) -> None:
    drawn = shown(terminal(["list"], env, columns=40))
    assert "…" not in drawn
    assert re.search(r"^version +1H v1$", drawn, re.M), drawn
    assert re.search(r"^stage +development$", drawn, re.M), drawn
    request = json.loads(piped(["requests", "--json"], env))["data"][0]["id"]
    assert re.search(rf"^request +{request}$", shown(terminal(["requests"], env)), re.M)


def test_stages_are_coloured_in_a_terminal_unless_no_color(env: dict[str, str]) -> None:
    coloured = terminal(["list"], env, columns=120)
    assert re.search(r"\x1b\[[0-9;]*33m\s*beta", coloured), coloured  # yellow
    assert re.search(r"\x1b\[[0-9;]*36m\s*development", coloured), coloured  # cyan
    plain = terminal(["list"], {**env, "NO_COLOR": "1"}, columns=120)
    assert not re.search(r"\x1b\[[0-9;]*3[0-7]m", plain), plain
    assert "\x1b" not in piped(["list"], env)


def test_a_pipe_gets_plain_full_rows(env: dict[str, str]) -> None:
    rows = piped(["history", "--timeframe", "1H"], env).splitlines()
    assert rows[0].split() == ["at", "(UTC)", "version", "move", "cause", "actor", "reason",
                               "detail"]  # fmt: skip
    assert len(rows) == 1 + 3 and not any("│" in row or "─" in row for row in rows)
    assert any(LONG_REASON.strip() in row for row in rows), rows
    assert max(len(row) for row in rows) > 200  # whole, not cut at 200 columns


def test_long_output_goes_through_the_pager_on_a_terminal(
    env: dict[str, str], tmp_path: Path
) -> None:
    paged = tmp_path / "paged.txt"
    pager = {**env, "PAGER": f"tee {paged} > /dev/null"}
    for args in (["history"], ["events"]):
        assert "registration" not in shown(terminal(args, pager))
        assert "registration" in shown(paged.read_text())
        paged.unlink()
    for args in (["history", "--no-pager"], ["--no-pager", "events"]):
        assert "registration" in shown(terminal(args, pager))
        assert not paged.exists()
    piped(["history"], pager)
    assert not paged.exists()  # a pipe is never paged

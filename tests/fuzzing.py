"""Fuzzing the input and error contract: strategies, the oracle, and a tally of inputs tried.

The contract, for any argument list, environment or Python call:

- never a traceback, and never the exit code of an internal error (4);
- a failure is one line on stderr, and with ``--json`` exactly one ``{"error": ...}``
  document on stdout; a success with ``--json`` is exactly one ``{"data": ...}`` document;
- after any refusal the store is unchanged, compared by a full dump.

``STAGEKEEPER_FUZZ_SCALE`` multiplies every fuzz test's number of examples (default 1);
the tally of inputs tried is printed at the end of the run (see ``conftest.py``).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from typer.testing import CliRunner, Result

from stagekeeper import open_registry
from stagekeeper.cli.app import app

SCALE = float(os.environ.get("STAGEKEEPER_FUZZ_SCALE", "1"))
TALLY: Counter[str] = Counter()

MEGABYTE = "x" * 1_000_000
NASTY = [
    "", " ", "1H", "4H", "1h", "beta", "Champion ", "champion", "ARCHIVED", "development",
    "production", "1", " 2 ", "0", "-1", "3.0", "1e3", "0x10", "2147483647", "2147483648",
    "9223372036854775808", "99999999999999999999999999", "%", "_", "%_%", "\\", ";", "';--",
    "`id`", "$(id)", "[/]", "fixes [/] bug", "[bold]x[/bold]", "[blink red]mallory[/]",
    "[link=https://evil.example]click[/link]", ":smile:", "'", '"', "\x00", "a\x00b",
    "line\nbreak", "\r", "\t", "\udcff", "\ud800", "é", "模型", "🚀", "{timeframe}",
    "{timeframe.x}", "{0}", "x" * 300, "y" * 2001, "--", "-", "-x",
]  # fmt: skip
# Every store's integer limits and just past them.
BOUNDARIES = [
    "2147483647", "2147483648", "-2147483649", "9223372036854775807", "9223372036854775808",
    "-9223372036854775809", "1" * 40, "1" * 4000, "0", "-0", "+1", "\u0661",
]  # fmt: skip
VALUES = st.one_of(
    st.sampled_from(NASTY),
    st.sampled_from(BOUNDARIES),
    st.text(max_size=40),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.just(MEGABYTE),
)
OPTIONS = [
    "--timeframe", "--model-version", "--target-stage", "--stage", "--reason", "--actor",
    "--source", "--limit", "--to-version", "--winner", "--format", "--model-vrsion", "--bogus",
]  # fmt: skip
FLAGS = ["--fix", "--dry-run", "--json=true", "--json"]
COMMANDS = [
    "register", "promote", "list", "history", "rollback", "status", "lifecycle", "doctor",
    "db upgrade", "db", "mlflow migrate-stages", "nosuch", "",
]  # fmt: skip


# Well-formed command lines, one of whose values the fuzzer replaces: most random lines
# fail at parsing, and these reach the checks behind it, and the store.
WELL_FORMED = [
    ["register", "--timeframe", "1H", "--source", "runs:/r/model", "--reason", "why"],
    ["register", "--timeframe", "1H", "--model-version", "9"],
    ["promote", "--timeframe", "1H", "--model-version", "3", "--target-stage", "beta"],
    ["promote", "--timeframe", "4H", "--model-version", "2", "--target-stage", "archived",
     "--reason", "why", "--actor", "ana"],
    ["rollback", "--timeframe", "1H", "--to-version", "1", "--reason", "why"],
    ["history", "--timeframe", "1H", "--model-version", "2", "--limit", "3"],
    ["list", "--timeframe", "4H", "--stage", "archived"],
    ["doctor", "--timeframe", "1H"],
    ["lifecycle", "--format", "mermaid"],
]  # fmt: skip


@st.composite
def argument_lists(draw: st.DrawFn) -> list[str]:
    """Half: a well-formed command line with a fuzzed value; half: random lines."""
    if draw(st.booleans()):
        args = list(draw(st.sampled_from(WELL_FORMED)))
        values = [i for i, token in enumerate(args) if i and args[i - 1].startswith("--")]
        for index in draw(st.lists(st.sampled_from(values), min_size=1, max_size=2)):
            args[index] = draw(VALUES)
        return [*args, "--json"] if draw(st.booleans()) else args
    return draw(random_argument_lists())


@st.composite
def random_argument_lists(draw: st.DrawFn) -> list[str]:
    """A command and a random mix of options, values and flags, ``--json`` anywhere."""
    args = draw(st.sampled_from(COMMANDS)).split()
    for _ in range(draw(st.integers(0, 6))):
        if draw(st.booleans()):
            args += [draw(st.sampled_from(OPTIONS)), draw(VALUES)]
        else:
            args.append(draw(st.sampled_from(FLAGS)))
    if draw(st.booleans()):
        args.insert(0, "--json")
    return args


def fuzz_settings(examples: int) -> settings:
    return settings(
        max_examples=max(1, int(examples * SCALE)),
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        derandomize=False,
    )


def seeded(url: str) -> str:
    """A store with something to lose (two timeframes, a champion, an archived one) and
    with hostile text in it, which every ``history`` and ``list`` then draws."""
    with open_registry(url, actor="[blink red]mallory[/]") as registry:
        for timeframe in ("1H", "4H"):
            for version in (1, 2, 3):
                registry.register(timeframe, source=f"runs:/r{version}/[bold]model[/]")
            for version in (1, 2):
                registry.promote(timeframe, version, "beta", reason="fixes [/] bug :smile:")
                registry.promote(
                    timeframe, version, "champion", reason="[link=https://evil.example]x[/link]"
                )
    return url


def dump(url: str) -> tuple[Any, ...]:
    """Everything a store holds: every version as it stands, and the whole history."""
    with open_registry(url, actor="dump") as registry:
        return tuple(registry.list()), tuple(registry.history())


def invoke(args: list[str], env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(app, args, env=env)


def check_contract(args: list[str], result: Result) -> None:
    """The CLI's output contract for one run (see the module docstring)."""
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output[-2000:]
    assert result.exit_code in (0, 1, 2, 3), (result.exit_code, output[-2000:])
    options = args[: args.index("--")] if "--" in args else args  # "--" ends the options
    wants_json = "--json" in options
    if result.exit_code != 0:
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr[-2000:]
        if wants_json:
            assert set(json.loads(result.stdout)) == {"error"}
            return
    elif wants_json:
        assert set(json.loads(result.stdout)) == {"data"}
    if result.exit_code == 0:
        assert result.stderr == "", result.stderr[-2000:]


def run_and_check(
    url: str, args: list[str], env: dict[str, str] | None = None, *, tally: str
) -> Result:
    """Run one fuzzed command against ``url``: the contract holds, a refusal changes nothing."""
    before = dump(url)
    result = invoke([*args, "--store", url], env)
    check_contract(args, result)
    if result.exit_code != 0:
        assert dump(url) == before, args
    TALLY[tally] += 1
    return result


def api_call(call: Callable[[], object]) -> bool:
    """Run one fuzzed Python call; ``True`` if it was refused with a stagekeeper error."""
    from stagekeeper import StagekeeperError

    try:
        call()
    except StagekeeperError:
        return True
    return False

"""The sinks on their own: a command, a plugin from an entry point, and bad configurations."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from stagekeeper.adapters.sinks import CommandSink, sinks_from
from stagekeeper.domain.errors import ValidationError
from stagekeeper.service.delivery import DeliveryError

EVENT = {"id": "op1", "type": "promoted", "timeframe": "1H"}
TAKEN: list[Mapping[str, Any]] = []


def make_sink(options: Mapping[str, Any]) -> Any:
    """A third-party sink factory, as an entry point names it."""
    assert options == {"channel": "#deploys"}
    return TAKEN.append


def test_a_command_gets_the_event_on_stdin(tmp_path: Path) -> None:
    target = tmp_path / "got.json"
    script = f"import sys; open({str(target)!r}, 'w').write(sys.stdin.read())"
    CommandSink([sys.executable, "-c", script])(EVENT)
    assert target.read_text() == '{"id":"op1","timeframe":"1H","type":"promoted"}'


def test_a_failing_command_is_retried_then_refused() -> None:
    waits: list[float] = []
    script = "import sys; sys.stderr.write('chat is down'); sys.exit(3)"
    sink = CommandSink([sys.executable, "-c", script], retries=2, backoff=0.1, sleep=waits.append)
    with pytest.raises(DeliveryError, match=r"exit 3: chat is down \(3 attempts\)"):
        sink(EVENT)
    assert waits == [0.1, 0.2]  # exponential backoff between attempts


def test_a_plugin_sink_comes_from_its_entry_point(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    info = tmp_path / "chat_sink-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: chat-sink\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[stagekeeper.sinks]\nchat = tests.unit.test_sinks:make_sink\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    sinks = sinks_from({"sinks": {"team": {"type": "chat", "channel": "#deploys"}}})
    sinks["team"](EVENT)
    assert TAKEN[-1] == EVENT


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({}, "names no sink"),
        ({"sinks": {"a": {"type": "webhook", "url": "ftp://x"}}}, "http:// or https://"),
        ({"sinks": {"a": {"type": "webhook", "url": "http://127.0.0.1/", "secret_env": "NOPE_1"}}},
         "NOPE_1 is not set"),
        ({"sinks": {"a": {"type": "webhook", "url": "http://h/", "colour": "red"}}}, "colour"),
        ({"sinks": {"a": {"type": "command", "command": "notify.sh"}}}, "list of strings"),
        ({"sinks": {"a": {"type": "pigeon"}}}, "unknown type 'pigeon'"),
    ],
)  # fmt: skip
def test_a_bad_configuration_is_refused(config: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        sinks_from(config)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"url": 123}, "url must be an http:// or https:// URL"),
        ({"timeout": "10"}, "timeout must be a number of seconds .* got '10'"),
        ({"timeout": -1}, "timeout must be a number of seconds from more than 0"),
        ({"timeout": 0}, "timeout must be a number of seconds"),
        ({"timeout": float("nan")}, "timeout must be a number of seconds .* got nan"),
        ({"timeout": 1e9}, "timeout .* to 3600"),
        ({"timeout": True}, "timeout must be a number"),
        ({"retries": "3"}, "retries must be a whole number from 0 to 100, got '3'"),
        ({"retries": -1}, "retries must be a whole number"),
        ({"retries": 2.5}, "retries must be a whole number"),
        ({"backoff": "x"}, "backoff must be a number of seconds from 0 .* got 'x'"),
        ({"backoff": float("inf")}, "backoff must be a number of seconds"),
        ({"secret_env": 5}, "secret_env must name a variable"),
    ],
)  # fmt: skip
def test_a_sink_option_of_the_wrong_type_or_range_is_refused(
    options: dict[str, Any], message: str
) -> None:
    section = {"type": "webhook", "url": "http://127.0.0.1/", **options}
    with pytest.raises(ValidationError, match=message):
        sinks_from({"sinks": {"hook": section}})
    command = {"type": "command", "command": ["true"], **options}
    if "url" not in options and "secret_env" not in options:
        with pytest.raises(ValidationError, match=message):
            sinks_from({"sinks": {"hook": command}})


@pytest.mark.parametrize("name", ["x" * 65, "a b", "#deploys", "naïve", ""])
def test_a_sink_name_past_the_one_limit_of_every_store_is_refused_before_delivery(
    name: str,
) -> None:
    with pytest.raises(ValidationError, match="expected 1 to 64 letters, digits"):
        sinks_from({"sinks": {name: {"type": "command", "command": ["true"]}}})


def test_a_sink_name_at_the_limit_is_accepted() -> None:
    name = "team-deploys_v1." + "x" * 48
    assert list(sinks_from({"sinks": {name: {"type": "command", "command": ["true"]}}})) == [name]

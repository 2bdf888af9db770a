"""The event stream, read from hand-made histories, and ``stagekeeper events`` itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from stagekeeper import open_registry
from stagekeeper.domain.errors import ValidationError
from stagekeeper.domain.events import (
    EventType,
    Position,
    after,
    document,
    events,
    format_cursor,
    mark_of,
    parse_cursor,
)
from stagekeeper.domain.model import StageChange
from stagekeeper.domain.stages import Cause, Stage
from stagekeeper.testing.events_contract import valid

START = datetime(2026, 1, 1, tzinfo=UTC)
D, B, C, A = Stage.DEVELOPMENT, Stage.BETA, Stage.CHAMPION, Stage.ARCHIVED
COMMAND = str(Path(sys.executable).parent / "stagekeeper")


def change(
    operation: str, version: int, source: Stage | None, target: Stage, cause: Cause,
    minute: int, timeframe: str = "1H",
) -> StageChange:  # fmt: skip
    return StageChange(
        operation, timeframe, f"{timeframe}_trading_model", version, source, target, None,
        "ana", START + timedelta(minutes=minute), cause,
    )  # fmt: skip


def test_each_operation_is_one_event_of_its_type() -> None:
    history = [
        change("r", 1, None, D, Cause.REGISTRATION, 0),
        change("p", 1, D, B, Cause.PROMOTION, 1),
        change("q", 1, B, B, Cause.REQUEST, 2),
        change("x", 1, B, B, Cause.EXPIRY, 3),
        change("a", 1, B, B, Cause.APPROVAL, 4),
        change("a", 1, B, C, Cause.PROMOTION, 4),
        change("m", 1, C, C, Cause.METRICS, 5),
        change("f", 1, C, A, Cause.FORCED, 6),
        change("d", 2, D, B, Cause.REPAIR, 7),
    ]
    found = events(history)
    assert [(e.operation_id, e.type, e.sequence) for e in found] == [
        ("r", EventType.REGISTERED, 1),
        ("p", EventType.PROMOTED, 2),
        ("q", EventType.APPROVAL_REQUESTED, 3),
        ("x", EventType.REQUEST_EXPIRED, 4),
        ("a", EventType.CHAMPION_CHANGED, 5),
        ("m", EventType.METRICS_RECORDED, 6),
        ("f", EventType.CHAMPION_CHANGED, 7),
        ("d", EventType.REPAIRED, 8),
    ]
    approved = found[4]
    assert (approved.previous_champion, approved.new_champion) == (None, 1)
    assert (found[6].previous_champion, found[6].new_champion) == (1, None)  # archived
    for event in found:
        valid(document(_with_cursor(event)))


def _with_cursor(event: object) -> object:
    import dataclasses

    return dataclasses.replace(event, cursor=f"{event.timeframe}:{event.sequence}")  # type: ignore[attr-defined, type-var]


def test_timeframes_merge_by_time_without_reordering_one() -> None:
    history = [
        change("a1", 1, None, D, Cause.REGISTRATION, 10),
        change("b1", 1, None, D, Cause.REGISTRATION, 5, timeframe="4H"),
        change("a2", 2, None, D, Cause.REGISTRATION, 3),  # a clock that disagrees
        change("b2", 2, None, D, Cause.REGISTRATION, 20, timeframe="4H"),
    ]
    ordered = [e.operation_id for e in after(events(history), {})]
    assert ordered.index("a1") < ordered.index("a2")
    assert ordered.index("b1") < ordered.index("b2")
    positions = {"1H": Position(1), "4H": Position(2)}
    assert [e.operation_id for e in after(events(history), positions)] == ["a2"]


def registrations(*operations: str) -> list[StageChange]:
    return [change(op, n, None, D, Cause.REGISTRATION, n) for n, op in enumerate(operations, 1)]


def test_a_cursor_resumes_after_its_operation_when_the_history_is_rewritten() -> None:
    before = events(registrations("a1", "a2", "a3", "a4"))
    cursor = format_cursor({"1H": Position.at(before[2])})  # after a3
    assert [e.operation_id for e in after(before, parse_cursor(cursor))] == ["a4"]
    # a2 set aside (doctor): a3 is now 2nd, and a number alone would skip a4.
    dropped = events(registrations("a1", "a3", "a4"))
    assert [e.operation_id for e in after(dropped, parse_cursor(cursor))] == ["a4"]
    assert after(dropped, {"1H": Position(3)}) == []  # what an unmarked cursor did
    # A history of its own (a model deleted by hand and registered again): from its start.
    replaced = events(registrations("b1", "b2", "b3", "b4", "b5"))
    assert [e.operation_id for e in after(replaced, parse_cursor(cursor))] == [
        "b1", "b2", "b3", "b4", "b5"
    ]  # fmt: skip


def test_cursors_read_back_and_bad_ones_are_refused() -> None:
    positions = {"4H": Position(3), "1H": Position(12, "0123456789ab")}
    assert format_cursor(positions) == "1H:12@0123456789ab,4H:3"
    assert parse_cursor(format_cursor(positions)) == positions
    assert parse_cursor(None) == parse_cursor("") == {}
    for bad in ("1H", "1H:x", "1H:1;4H:2", "a b:1", "1H:1@", "1H:1@0123", "1H:1@0123456789AB"):
        with pytest.raises(ValidationError, match="invalid cursor"):
            parse_cursor(bad)


def test_events_follow_prints_new_events_as_they_are_committed(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'events.db'}"
    env = {**os.environ, "STAGEKEEPER_STORE": store}
    with open_registry(store) as registry:
        registry.register("1H")
    with subprocess.Popen(
        [COMMAND, "events", "--follow", "--interval", "0.1"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    ) as follower:  # fmt: skip
        try:
            assert follower.stdout is not None
            first = json.loads(follower.stdout.readline())
            assert (first["type"], first["cursor"]) == (
                "registered",
                f"1H:1@{mark_of(first['id'])}",
            )
            time.sleep(0.3)
            with open_registry(store) as registry:
                registry.promote("1H", 1, "beta", reason="validated")
            second = json.loads(follower.stdout.readline())
            assert (second["type"], second["reason"], second["cursor"]) == (
                "promoted",
                "validated",
                f"1H:2@{mark_of(second['id'])}",
            )
        finally:
            follower.terminate()
    resumed = subprocess.run(
        [COMMAND, "events", "--since", first["cursor"]], env=env, capture_output=True, text=True
    )
    assert [json.loads(line)["type"] for line in resumed.stdout.splitlines()] == ["promoted"]


def test_a_subscription_follows_the_stream_in_process() -> None:
    from stagekeeper.domain.events import Event
    from stagekeeper.service.delivery import Subscription

    seen: list[Event] = []
    with open_registry("memory://") as registry:
        registry.register("1H")
        with Subscription(registry.store, seen.append, interval=0.01) as subscription:
            registry.promote("1H", 1, "beta")
            deadline = time.monotonic() + 5
            while len(seen) < 2 and time.monotonic() < deadline:
                time.sleep(0.01)
        assert [e.type.value for e in seen] == ["registered", "promoted"]
        assert subscription.cursor == f"1H:2@{mark_of(seen[-1].operation_id)}"


def test_deliver_with_a_bad_configuration_is_one_line(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from stagekeeper.cli.app import app

    store = f"sqlite:///{tmp_path / 'x.db'}"
    missing = str(tmp_path / "none.toml")
    result = CliRunner().invoke(app, ["events", "deliver", "--config", missing, "--store", store])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: cannot read") and result.stderr.count("\n") == 1


def _cli(*args: str) -> Any:
    from typer.testing import CliRunner

    from stagekeeper.cli.app import app

    return CliRunner().invoke(app, list(args))


def test_events_with_json_is_one_document_with_the_cursor_to_resume_from(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'events.db'}"
    with open_registry(store) as registry:
        registry.register("1H")
        registry.promote("1H", 1, "beta")
    result = _cli("events", "--store", store, "--json")
    assert result.exit_code == 0, result.stderr
    found = json.loads(result.stdout)["data"]  # one document, not JSON Lines
    assert [e["type"] for e in found["events"]] == ["registered", "promoted"]
    assert found["cursor"] == found["events"][-1]["cursor"]
    resumed = json.loads(
        _cli("--json", "events", "--store", store, "--since", found["cursor"]).stdout
    )
    assert resumed["data"] == {"events": [], "cursor": found["cursor"]}  # nothing new: same place
    refused = _cli("events", "--store", store, "--json", "--follow")
    assert refused.exit_code == 2 and "--follow prints JSON Lines" in refused.stderr


def test_events_deliver_does_not_create_a_store_that_does_not_exist(tmp_path: Path) -> None:
    config = tmp_path / "sinks.toml"
    config.write_text('[sinks.log]\ntype = "command"\ncommand = ["true"]\n', encoding="utf-8")
    mistyped = tmp_path / "modles.db"
    result = _cli("events", "deliver", "--config", str(config), "--store", f"sqlite:///{mistyped}")
    assert result.exit_code == 3, result.output
    assert "does not exist" in result.stderr
    assert not mistyped.exists()


def test_version_with_json_is_a_json_document() -> None:
    for args in (("--json", "--version"), ("--version", "--json")):
        result = _cli(*args)
        assert result.exit_code == 0
        assert set(json.loads(result.stdout)["data"]) == {"version"}
    assert _cli("--version").stdout.startswith("stagekeeper ")


def test_store_and_actor_may_stand_before_the_command(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'before.db'}"
    registered = _cli("--store", store, "--actor", "ana", "--json", "register", "--timeframe", "1H")
    assert registered.exit_code == 0, registered.output
    with open_registry(store) as registry:
        assert registry.history("1H")[0].actor == "ana"
    after = _cli("--store", store, "status", "--store", f"sqlite:///{tmp_path / 'none.db'}")
    assert after.exit_code == 3  # the command's own option wins


def test_format_2_names_who_acted_and_format_1_events_still_match_theirs() -> None:
    import jsonschema

    from stagekeeper.domain.events import document
    from stagekeeper.testing.events_contract import event_schema

    with open_registry("memory://", actor="ana") as registry:
        registry.register("1H")
        [event] = registry.events()
    new = document(event)
    assert new["identity"] == {"name": "ana", "verified": False, "source": "declared"}
    jsonschema.validate(new, event_schema(2))
    old = {**{k: v for k, v in new.items() if k != "identity"}, "format": "stagekeeper.event/1"}
    jsonschema.validate(old, event_schema(1))
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(old, event_schema(2))

"""``doctor`` on SQL stores changed by hand: a second champion behind a dropped index is
reported and never recorded as a reign, and a version whose history rows were deleted is
reported and recorded as found."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError
from typer.testing import CliRunner

from stagekeeper import Stage, open_registry
from stagekeeper.cli.app import app


def by_hand(url: str, *statements: str) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            for statement in statements:
                connection.execute(text(statement))
    finally:
        engine.dispose()


def doctor(url: str, *args: str) -> tuple[int, list[dict[str, object]]]:
    result = CliRunner().invoke(app, ["doctor", *args, "--store", url, "--json"])
    findings: list[dict[str, object]] = json.loads(result.stdout)["data"]["findings"]
    return result.exit_code, findings


def crowned_and_challenger(url: str) -> None:
    with open_registry(url, actor="ana") as registry:
        registry.register("1H")
        registry.promote("1H", 1, Stage.BETA)
        registry.promote("1H", 1, Stage.CHAMPION)
        registry.register("1H")
        registry.promote("1H", 2, Stage.BETA)


def test_two_champions_are_reported_and_never_recorded(url: str) -> None:
    crowned_and_challenger(url)
    by_hand(
        url,
        "DROP INDEX stagekeeper_one_champion",
        "UPDATE stagekeeper_versions SET stage = 'champion' WHERE version = 2",
    )
    with open_registry(url) as registry:
        history = registry.history()
    code, findings = doctor(url, "--fix")
    assert code == 1  # unrepaired
    assert [(f["code"], f["fixed"]) for f in findings] == [
        ("missing-champion-index", False), ("several-champions", False)
    ]  # fmt: skip
    assert "2 champions (v1, v2)" in str(findings[1]["message"])
    with open_registry(url) as registry:
        assert registry.history() == history  # no repair made v2 a champion on the record
    by_hand(url, "UPDATE stagekeeper_versions SET stage = 'beta' WHERE version = 2")
    code, fixed = doctor(url, "--fix")  # one champion again: the index can come back
    assert (code, [(f["code"], f["fixed"]) for f in fixed]) == (
        0, [("missing-champion-index", True)]
    )  # fmt: skip
    assert doctor(url) == (0, [])
    with pytest.raises(IntegrityError):  # the database guards the rule again
        by_hand(url, "UPDATE stagekeeper_versions SET stage = 'champion' WHERE version = 2")


def test_a_version_without_history_is_reported_and_recorded_as_found(url: str) -> None:
    crowned_and_challenger(url)
    by_hand(url, "DELETE FROM stagekeeper_changes WHERE version = 2")
    code, findings = doctor(url)
    assert code == 1
    assert [(f["code"], f["version"]) for f in findings] == [("unrecorded-version", 2)]
    code, fixed = doctor(url, "--fix")
    assert code == 0 and fixed[0]["fixed"] is True
    with open_registry(url) as registry:
        [repair] = registry.history("1H", 2)
        assert (repair.from_stage, repair.to_stage) == (None, Stage.BETA)
        assert repair.cause.value == "repair"
        assert registry.events()[-1].main.version == 2  # the stream shows it now
    assert doctor(url) == (0, [])


@pytest.mark.parametrize(
    ("damage", "words"),
    [
        ("cause = 'teleport'", "has cause 'teleport', none that stagekeeper records"),
        ("to_stage = 'limbo'", "has to_stage 'limbo'"),
    ],
)
def test_a_damaged_history_row_is_a_damaged_store_named_everywhere(
    url: str, damage: str, words: str
) -> None:
    assert_reported_as_damage(url, damage, words)


def test_a_time_that_is_no_time_is_a_damaged_store_on_sqlite(tmp_path: Path) -> None:
    """SQLite keeps any text in a time column; PostgreSQL's timestamptz refuses it."""
    url = f"sqlite:///{tmp_path / 'doctor.db'}"
    assert_reported_as_damage(url, "at = 'not a time'", "has the time 'not a time'")


def assert_reported_as_damage(url: str, damage: str, words: str) -> None:
    crowned_and_challenger(url)
    by_hand(url, f"UPDATE stagekeeper_changes SET {damage} WHERE version = 2")
    for command in (["history"], ["events"], ["timeline"], ["status"], ["list"]):
        result = CliRunner().invoke(app, [*command, "--store", url, "--json"])
        if command[0] in ("status", "list"):  # they read no history
            assert result.exit_code == 0, result.output
            continue
        assert result.exit_code == 3, (command, result.output)
        error = json.loads(result.stdout)["error"]
        assert error["code"] == "store_unavailable"
        assert error["message"].startswith("the store's history is damaged: history row ")
        assert words in error["message"] and "(1H v2)" in error["message"]
        assert result.stderr.count("\n") == 1
    code, findings = doctor(url, "--fix")
    assert code == 1
    assert [(f["code"], f["version"], f["fixed"]) for f in findings] == [
        ("damaged-history", 2, False)
    ] * 2  # both of v2's rows: its registration and its move to beta
    assert words in str(findings[0]["message"])

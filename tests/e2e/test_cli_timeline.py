"""``stagekeeper timeline``: the reigns as a table, as JSON and as a Mermaid gantt chart."""

from __future__ import annotations

from pathlib import Path

import pytest

from stagekeeper import open_registry
from tests.e2e.test_cli import cli, data, error


@pytest.fixture
def store(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'timeline.db'}"
    with open_registry(url, actor="ana") as registry:
        for _ in range(2):
            version = registry.register("1H").version
            registry.promote("1H", version, "beta")
            registry.promote("1H", version, "champion")
        registry.rollback("1H", reason="live drawdown", actor="bob")
        registry.register("4H")  # no champion yet: no reign
    return url


def test_the_reigns_as_data(store: str) -> None:
    found = data(store, "timeline")
    assert [(r["version"], r["began"], r["ended"], r["ended_by"], r["successor"])
            for r in found] == [
        (1, "promotion", "auto-demotion", "ana", 2),
        (2, "promotion", "rollback", "bob", 1),
        (1, "rollback", None, None, None),
    ]  # fmt: skip
    assert found[-1]["end"] is None
    assert data(store, "timeline", "--timeframe", "4H") == []
    assert len(data(store, "timeline", "--since", "2999-01-01")) == 1  # only the reigning one


def test_the_reigns_as_a_table_and_a_gantt_chart(store: str, tmp_path: Path) -> None:
    table = cli(store, "timeline").stdout
    assert "auto-demotion by ana (for v2)" in table and "rollback by bob (for v1)" in table
    assert "now" in table
    chart = cli(store, "timeline", "--format", "mermaid").stdout
    lines = chart.splitlines()
    assert lines[:2] == ["gantt", "    title Champions"]
    assert "    section 1H" in lines
    assert [line.split(":")[0].strip() for line in lines if line.startswith("    v")] == [
        "v1 promotion",
        "v2 promotion",
        "v1 rollback",
    ]
    assert lines[-1].split(":", 1)[1].startswith("active,")
    target = tmp_path / "chart.mmd"
    written = cli(store, "timeline", "--format", "mermaid", "--output", str(target))
    # The reigning bar ends "now", which may have passed a second between the two runs.
    assert written.exit_code == 0
    assert target.read_text(encoding="utf-8").splitlines()[:-1] == lines[:-1]


def test_a_bad_date_or_format_is_a_usage_error(store: str) -> None:
    assert (
        "invalid date" in error(store, "timeline", "--since", "yesterday", exit_code=2)["message"]
    )
    assert error(store, "timeline", "--format", "gif", exit_code=2)["code"] == "invalid_input"

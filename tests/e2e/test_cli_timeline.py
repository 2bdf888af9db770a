"""``stagekeeper timeline``: the reigns as a table, as JSON and as a Mermaid gantt chart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from stagekeeper import open_registry
from stagekeeper.domain.timeline import Reign
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
    assert lines[:2] == ["gantt", "    title Champions (UTC)"]
    assert lines[3] == "    axisFormat %H:%M:%S"  # reigns of seconds: the clock, not a date
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


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(90, "%H:%M:%S"), (6 * 3600, "%H:%M"), (30 * 86400, "%b %d"), (400 * 86400, "%Y-%m"),
     (5 * 365 * 86400, "%Y")],
)  # fmt: skip
def test_the_gantt_axis_suits_the_span(seconds: int, shown: str) -> None:
    from stagekeeper.cli.render import axis_format

    assert axis_format(seconds) == shown


def reigns_over(span: timedelta) -> list[Reign]:
    start = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
    return [
        Reign("1H", "1H_trading_model", 1, start, start + span / 3, "promotion", "auto-demotion"),
        Reign("1H", "1H_trading_model", 2, start + span / 3, start + span / 2, "forced",
              "rollback"),
        Reign("1H", "1H_trading_model", 1, start + span / 2, None, "rollback"),
    ]  # fmt: skip


@pytest.mark.parametrize("span", [timedelta(minutes=10), timedelta(days=2), timedelta(days=900)])
def test_the_picture_has_a_legend_rollback_marks_and_a_utc_axis(span: timedelta) -> None:
    from stagekeeper.cli import charts

    reigns = reigns_over(span)
    pyplot = charts._pyplot()
    figure = charts.figure_of(pyplot, reigns, reigns[0].start + span)
    axes = figure.axes[0]
    figure.canvas.draw()
    legend = [text.get_text() for text in axes.get_legend().get_texts()]
    assert legend == ["1H v1", "1H v2", "forced", "rollback"]
    assert axes.get_xlabel() == "time (UTC)"
    marks = [line for line in axes.get_lines() if line.get_marker() == "v"]
    assert len(marks) == 1  # the one reign a rollback began
    ticks = [tick.get_text() for tick in axes.get_xticklabels() if tick.get_text()]
    assert 3 <= len(ticks) <= 10 and len(set(ticks)) >= 3, ticks  # not one date repeated
    pyplot.close(figure)


def test_png_and_svg_are_written(store: str, tmp_path: Path) -> None:
    for image_format, magic in (("png", b"\x89PNG"), ("svg", b"<?xml")):
        target = tmp_path / f"chart.{image_format}"
        assert (
            cli(store, "timeline", "--format", image_format, "--output", str(target)).exit_code == 0
        )
        assert target.read_bytes().startswith(magic)

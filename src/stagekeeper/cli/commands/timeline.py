"""``stagekeeper timeline``: who was champion of each timeframe, from when to when."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from stagekeeper.cli import options, render, tables
from stagekeeper.cli.session import Session, command_session
from stagekeeper.domain.errors import ValidationError


class Format(StrEnum):
    TABLE = "table"
    MERMAID = "mermaid"
    SVG = "svg"
    PNG = "png"
    HTML = "html"


PICTURES = (Format.SVG, Format.PNG, Format.HTML)
RECENT_HISTORY = 50


def timeline(
    timeframe: options.OptionalTimeframe = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            metavar="DATE",
            help="Only reigns that lasted past this date (YYYY-MM-DD or an ISO time, UTC).",
            show_default=False,
        ),
    ] = None,
    output_format: Annotated[
        str,
        typer.Option(
            "--format",
            metavar="|".join(Format),
            help="A table, a Mermaid gantt chart, an SVG or PNG chart, or an HTML report "
            "(status, chart, recent history; works offline). svg, png and html need "
            "stagekeeper\\[plot] and --output.",
        ),
    ] = "table",
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", metavar="FILE", help="Write the chart to FILE.", show_default=False
        ),
    ] = None,
    store: options.Store = None,
    actor: options.Actor = None,
    json_output: options.Json = False,
) -> None:
    """Draw the champions' reigns, folded from the history."""
    output_format = Format(options.choice(output_format, list(Format)))
    start = _date(since)
    if output_format in PICTURES and output is None:
        raise ValidationError(f"--format {output_format.value} writes a file: give --output FILE")
    with command_session(json_output) as session:
        registry = session.open(store, actor, writes=False)
        now = datetime.now(UTC)
        found = registry.timeline(timeframe, since=start)
        if output_format is Format.MERMAID and not session.json_output:
            _draw(session, render.reigns_mermaid(found, now).encode("utf-8"), output)
            return
        if output_format in PICTURES:
            from stagekeeper.cli import charts

            if output_format is Format.HTML:
                statuses = registry.status()
                crowned = [(s.timeframe, s.champion) for s in statuses if s.champion is not None]
                page = charts.report(
                    found, statuses, registry.history(timeframe, limit=RECENT_HISTORY), now,
                    {tf: registry.metrics(tf, number) for tf, number in crowned},
                )  # fmt: skip
                _draw(session, page.encode("utf-8"), output)
            else:
                _draw(session, charts.picture(found, now, output_format.value), output)
            return
        session.emit(
            [render.reign_data(r) for r in found],
            lambda console: tables.show(
                console, render.reigns_table(found, now), "No version has been champion yet."
            ),
        )


def _draw(session: Session, chart: bytes, output: Path | None) -> None:
    if output is None:
        session.say(chart.decode("utf-8"))
        return
    try:
        output.write_bytes(chart)
    except OSError as exc:
        raise ValidationError(f"cannot write {output}: {exc.strerror}") from None
    session.say(f"Wrote {output}.\n")


def _date(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValidationError(
            f"invalid date {text[:40]!r}: expected YYYY-MM-DD or an ISO 8601 time"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment

"""The champion timeline drawn as a picture (SVG, PNG) and as a self-contained HTML report.

Drawn with matplotlib, an optional extra (``pip install 'stagekeeper[plot]'``), imported
only here and only when a picture is asked for. The SVG keeps its text as paths, so the
HTML report needs no font and no script from anywhere: it works offline.
"""

from __future__ import annotations

import html
import io
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from stagekeeper.domain.errors import ValidationError
from stagekeeper.domain.model import StageChange, TimeframeStatus
from stagekeeper.domain.stages import Stage
from stagekeeper.domain.timeline import Reign

PLOT_HINT = (
    "pip install 'stagekeeper[plot]' (matplotlib; from a checkout: pip install -e '.[plot]')"
)


def picture(reigns: Sequence[Reign], now: datetime, image_format: str) -> bytes:
    """The timeline as an ``svg`` or ``png`` image: a row per timeframe, a bar per reign."""
    pyplot = _pyplot()
    figure = _draw(pyplot, reigns, now)
    buffer = io.BytesIO()
    figure.savefig(buffer, format=image_format, bbox_inches="tight", dpi=150)
    pyplot.close(figure)
    return buffer.getvalue()


def report(
    reigns: Sequence[Reign],
    statuses: Sequence[TimeframeStatus],
    recent: Sequence[StageChange],
    now: datetime,
) -> str:
    """A self-contained HTML page: every timeframe's status, the timeline, recent history."""
    chart = picture(reigns, now, "svg").decode("utf-8")
    chart = chart[chart.index("<svg") :]  # the XML prologue has no place inside HTML
    counted = [stage for stage in Stage if stage is not Stage.CHAMPION]
    status_rows = "".join(
        _row(
            [s.timeframe, s.model_name, "-" if s.champion is None else f"v{s.champion}"]
            + [str(s.counts[stage]) for stage in counted]
        )
        for s in statuses
    )
    history_rows = "".join(
        _row(
            [
                f"{c.at.astimezone(UTC):%Y-%m-%d %H:%M}",
                c.timeframe,
                f"v{c.version}",
                c.from_stage.value if c.from_stage else "-",
                c.to_stage.value,
                c.cause.value,
                c.actor,
                c.reason or "",
            ]
        )
        for c in reversed(recent)
    )
    stage_heads = "".join(f"<th># {stage.value}</th>" for stage in counted)
    return _PAGE.format(
        generated=f"{now.astimezone(UTC):%Y-%m-%d %H:%M} UTC",
        status_heads=f"<th>timeframe</th><th>model</th><th>champion</th>{stage_heads}",
        status_rows=status_rows,
        chart=chart,
        history_rows=history_rows,
        shown=len(recent),
    )


def _pyplot() -> Any:
    try:
        import matplotlib
    except ModuleNotFoundError:
        raise ValidationError(
            "drawing the timeline as a picture needs matplotlib", hint=PLOT_HINT
        ) from None
    matplotlib.use("Agg")  # no display: draw to files
    matplotlib.rcParams["svg.fonttype"] = "path"  # no font needed to show the SVG
    matplotlib.rcParams["svg.hashsalt"] = "stagekeeper"  # the same picture for the same data
    import matplotlib.pyplot as pyplot

    return pyplot


def _draw(pyplot: Any, reigns: Sequence[Reign], now: datetime) -> Any:
    import matplotlib.dates

    mdates: Any = matplotlib.dates  # untyped: treated as such
    timeframes = sorted({r.timeframe for r in reigns})
    figure, axes = pyplot.subplots(figsize=(10, 1.2 + 0.6 * max(len(timeframes), 1)))
    colours = pyplot.get_cmap("tab10")
    spans = [
        (mdates.date2num(r.start), mdates.date2num(r.end or max(now, r.start))) for r in reigns
    ]
    whole = max((end for _, end in spans), default=1.0) - min((s for s, _ in spans), default=0.0)
    for reign, (start, end) in zip(reigns, spans, strict=True):
        row = timeframes.index(reign.timeframe)
        width = max(end - start, whole * 0.004)
        hatch = "//" if reign.began == "forced" else None
        axes.broken_barh([(start, width)], (row - 0.35, 0.7), hatch=hatch,
                         facecolors=colours(reign.version % 10), edgecolor="white")  # fmt: skip
        if width >= whole * 0.04:  # a label that fits
            axes.text(start + width / 2, row, f"v{reign.version}", ha="center", va="center",
                      color="white", fontsize=9, fontweight="bold")  # fmt: skip
    axes.set_yticks(range(len(timeframes)), timeframes)
    axes.set_ylim(-0.6, max(len(timeframes), 1) - 0.4)
    axes.invert_yaxis()
    axes.xaxis_date()
    axes.xaxis.set_major_formatter(mdates.ConciseDateFormatter(axes.xaxis.get_major_locator()))
    axes.set_title("Champions over time (hatched: forced)")
    axes.grid(axis="x", alpha=0.3)
    if not reigns:
        axes.text(0.5, 0.5, "no champion yet", transform=axes.transAxes, ha="center")
    figure.tight_layout()
    return figure


def _row(cells: Sequence[str]) -> str:
    return "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in cells) + "</tr>"


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>stagekeeper: champions</title>
<style>
body {{ font-family: sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; margin-bottom: 2em; }}
th, td {{ border: 1px solid #ccc; padding: 0.3em 0.7em; text-align: left; }}
th {{ background: #f3f3f3; }}
#timeline svg {{ max-width: 100%; height: auto; }}
</style>
</head>
<body>
<h1>Champions</h1>
<p>Generated {generated}.</p>
<h2>Status</h2>
<table id="status"><thead><tr>{status_heads}</tr></thead><tbody>{status_rows}</tbody></table>
<h2>Timeline</h2>
<div id="timeline">{chart}</div>
<h2>Recent history (newest first, {shown} changes)</h2>
<table id="history"><thead><tr><th>at (UTC)</th><th>timeframe</th><th>version</th><th>from</th>
<th>to</th><th>cause</th><th>actor</th><th>reason</th></tr></thead>
<tbody>{history_rows}</tbody></table>
</body>
</html>
"""

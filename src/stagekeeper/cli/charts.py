"""The champion timeline drawn as a picture (SVG, PNG) and as a self-contained HTML report.

Drawn with matplotlib, an optional extra (``pip install 'stagekeeper[plot]'``), imported
only here and only when a picture is asked for. The SVG keeps its text as paths, so the
HTML report needs no font and no script from anywhere: it works offline.
"""

from __future__ import annotations

import html
import io
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from stagekeeper.cli.render import short_time
from stagekeeper.domain.errors import ValidationError
from stagekeeper.domain.model import StageChange, TimeframeStatus, metrics_detail
from stagekeeper.domain.stages import Stage
from stagekeeper.domain.timeline import Reign

PLOT_HINT = (
    "pip install 'stagekeeper[plot]' (matplotlib; from a checkout: pip install -e '.[plot]')"
)


def picture(reigns: Sequence[Reign], now: datetime, image_format: str) -> bytes:
    """The timeline as an ``svg`` or ``png`` image: a row per timeframe, a bar per reign."""
    pyplot = _pyplot()
    figure = figure_of(pyplot, reigns, now)
    buffer = io.BytesIO()
    figure.savefig(buffer, format=image_format, bbox_inches="tight", dpi=150)
    pyplot.close(figure)
    return buffer.getvalue()


def report(
    reigns: Sequence[Reign],
    statuses: Sequence[TimeframeStatus],
    recent: Sequence[StageChange],
    now: datetime,
    champions_metrics: Mapping[str, Mapping[str, float]],
) -> str:
    """A self-contained HTML page: every timeframe's status and its champion's metrics, the
    timeline, the recent history with each change's detail; times to the second, in UTC."""
    chart = picture(reigns, now, "svg").decode("utf-8")
    chart = chart[chart.index("<svg") :]  # the XML prologue has no place inside HTML
    counted = [stage for stage in Stage if stage is not Stage.CHAMPION]
    status_rows = "".join(
        _row(
            [s.timeframe, s.model_name, "-" if s.champion is None else f"v{s.champion}",
             metrics_detail(champions_metrics.get(s.timeframe, {}), {}),
             *(str(s.counts[stage]) for stage in counted)]
        )
        for s in statuses
    )  # fmt: skip
    history_rows = "".join(
        _row(
            [short_time(c.at), c.timeframe, f"v{c.version}",
             c.from_stage.value if c.from_stage else "-", c.to_stage.value, c.cause.value,
             c.actor, c.reason or "", c.detail or ""]
        )
        for c in reversed(recent)
    )  # fmt: skip
    stage_heads = "".join(f"<th># {stage.value}</th>" for stage in counted)
    return _PAGE.format(
        generated=f"{short_time(now)} UTC",
        status_heads="<th>timeframe</th><th>model</th><th>champion</th>"
        f"<th>champion's metrics</th>{stage_heads}",
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


def figure_of(pyplot: Any, reigns: Sequence[Reign], now: datetime) -> Any:
    """A row per timeframe, a bar per reign coloured by version (the legend names them):
    forced crownings hatched, rollbacks marked with a triangle where they began."""
    import matplotlib.dates

    mdates: Any = matplotlib.dates  # untyped: treated as such
    timeframes = sorted({r.timeframe for r in reigns})
    figure, axes = pyplot.subplots(figsize=(10, 1.6 + 0.6 * max(len(timeframes), 1)))
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
        if reign.began == "rollback":
            axes.plot(start, row - 0.45, marker="v", color="black", markersize=7)
    _axes(axes, mdates, timeframes, whole)
    axes.legend(handles=_legend(reigns, colours), loc="upper left", bbox_to_anchor=(1.01, 1),
                fontsize=8, frameon=False)  # fmt: skip
    if not reigns:
        axes.text(0.5, 0.5, "no champion yet", transform=axes.transAxes, ha="center")
    figure.tight_layout()
    return figure


def _axes(axes: Any, mdates: Any, timeframes: list[str], whole: float) -> None:
    """Timeframes down, time across in UTC, ticks that suit the span (minutes to years)."""
    axes.set_yticks(range(len(timeframes)), timeframes)
    axes.set_ylim(-0.7, max(len(timeframes), 1) - 0.3)
    axes.invert_yaxis()
    axes.xaxis_date(tz=UTC)
    locator = mdates.AutoDateLocator(tz=UTC, minticks=3, maxticks=8)
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, tz=UTC))
    if whole <= 0:  # one instant: a minute around it, not a zero-width axis
        left, _ = axes.get_xlim()
        axes.set_xlim(left - 1 / 2880, left + 1 / 2880)
    axes.set_xlabel("time (UTC)")
    axes.set_title("Champions over time")
    axes.grid(axis="x", alpha=0.3)


def _legend(reigns: Sequence[Reign], colours: Any) -> list[Any]:
    """A patch per version shown (the first 12), then what hatching and triangles mean."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    shown = sorted({(r.timeframe, r.version) for r in reigns}, key=lambda tv: (tv[0], tv[1]))
    handles: list[Any] = [
        Patch(facecolor=colours(version % 10), label=f"{timeframe} v{version}")
        for timeframe, version in shown[:12]
    ]
    if len(shown) > 12:
        handles.append(Patch(facecolor="white", label=f"and {len(shown) - 12} more"))
    if any(r.began == "forced" for r in reigns):
        handles.append(Patch(facecolor="lightgrey", hatch="//", label="forced"))
    if any(r.began == "rollback" for r in reigns):
        handles.append(Line2D([], [], marker="v", color="black", linestyle="", label="rollback"))
    return handles


def _row(cells: Sequence[str]) -> str:
    return "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in cells) + "</tr>"


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>stagekeeper: champions</title>
<style>
body {{ font-family: sans-serif; margin: 1.5em; color: #222; }}
table {{ border-collapse: collapse; margin-bottom: 2em; width: 100%; }}
th, td {{ border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }}
td {{ overflow-wrap: anywhere; }}
th {{ background: #f3f3f3; }}
#timeline svg {{ display: block; width: 100%; height: auto; }}
@media (max-width: 600px) {{
  body {{ margin: 0.5em; }}
  th, td {{ padding: 0.2em 0.25em; font-size: 0.8em; }}
  th {{ overflow-wrap: anywhere; }}
}}
</style>
</head>
<body>
<h1>Champions</h1>
<p>Generated {generated}. Times are UTC, to the second.</p>
<h2>Status</h2>
<table id="status"><thead><tr>{status_heads}</tr></thead><tbody>{status_rows}</tbody></table>
<h2>Timeline</h2>
<div id="timeline">{chart}</div>
<h2>Recent history (newest first, {shown} changes)</h2>
<table id="history"><thead><tr><th>at (UTC)</th><th>timeframe</th><th>version</th><th>from</th>
<th>to</th><th>cause</th><th>actor</th><th>reason</th><th>detail</th></tr></thead>
<tbody>{history_rows}</tbody></table>
</body>
</html>
"""

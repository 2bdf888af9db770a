"""What the pages show, gathered from the facade: the overview's rows, a history filtered,
the champions' reigns as SVG, a version's metrics beside the champion's, and the forms'
actions. Plain functions, no Starlette. Imports the service and the domain.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any

from stagekeeper.domain.errors import ValidationError
from stagekeeper.domain.model import StageChange
from stagekeeper.domain.timeline import Reign
from stagekeeper.service.registry import Registry

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
KEY_METRICS = 3
CHALLENGERS = 3  # the newest versions in beta shown on the overview; the rest are counted


def visible(text: object) -> str:
    """Text with its invisible controls shown as ⟨U+XXXX⟩: a bidirectional override is
    displayed, never obeyed (Jinja2 escapes the rest)."""
    if text is None:
        return ""
    return "".join(
        f"⟨U+{ord(c):04X}⟩" if unicodedata.category(c) in ("Cc", "Cf") else c for c in str(text)
    )


def utc(moment: datetime | None) -> str:
    return "" if moment is None else f"{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"


def latest(registry: Registry) -> str:
    from stagekeeper.service.events import latest

    return latest(registry.store)


def overview_rows(registry: Registry) -> list[dict[str, Any]]:
    """One row per timeframe, from the summaries (a few queries where the store can)."""
    from stagekeeper.service.overview import summaries

    pending = registry.requests()
    rows = []
    for found in summaries(registry.store, CHALLENGERS):
        champion = found.champion
        theirs = found.metrics.get(champion.version, {}) if champion else {}
        rows.append({
            "tf": found.timeframe, "champion": champion, "crowned": found.crowning,
            "challengers": [
                (v, _key_metrics(found.metrics.get(v.version, {}), theirs)) for v in found.betas
            ],
            "more": found.beta_count - len(found.betas),
            "pending": [r for r in pending if r.timeframe == found.timeframe],
            "last": found.last,
        })  # fmt: skip
    return rows


def _key_metrics(mine: Mapping[str, float], theirs: Mapping[str, float]) -> list[Any]:
    names = sorted(mine)[:KEY_METRICS]
    return [(name, mine[name], theirs.get(name)) for name in names]


def filtered(changes: list[StageChange], query: Mapping[str, str]) -> list[StageChange]:
    """The history as the filters say: version, actor, cause, and a day (YYYY-MM-DD)."""
    version, actor = query.get("version", "").strip(), query.get("actor", "").strip()
    cause, day = query.get("cause", "").strip(), query.get("date", "").strip()
    return [
        c for c in changes
        if (not version or str(c.version) == version)
        and (not actor or actor.casefold() in (c.actor.casefold(), c.who.name.casefold()))
        and (not cause or c.cause.value == cause)
        and (not day or f"{c.at.astimezone(UTC):%Y-%m-%d}" == day)
    ]  # fmt: skip


def timeline_svg(reigns: list[Reign], now: datetime, width: int = 800) -> str:
    """The reigns as bars on one axis, in UTC; hovering a bar names its reign (<title>)."""
    if not reigns:
        return ""
    start = min(r.start for r in reigns)
    end = max([now, *(r.end for r in reigns if r.end is not None)])
    span = max((end - start).total_seconds(), 1.0)
    bars = []
    for index, r in enumerate(reigns):
        left = (r.start - start).total_seconds() / span * width
        right = ((r.end or now) - start).total_seconds() / span * width
        title = f"v{r.version}: {utc(r.start)} to {utc(r.end) if r.end else 'now'} ({r.began})"
        bars.append(
            f'<rect class="reign reign-{index % 6}" x="{left:.1f}" y="4" '
            f'width="{max(right - left, 2):.1f}" height="24"><title>{escape(title)}</title>'
            f'</rect><text x="{left + 3:.1f}" y="21">v{r.version}</text>'
        )
    return (
        f'<svg class="timeline" viewBox="0 0 {width} 48" role="img" '
        f'aria-label="champion timeline">{"".join(bars)}'
        f'<text x="0" y="44">{escape(utc(start))}</text>'
        f'<text x="{width}" y="44" text-anchor="end">now ({escape(utc(now))})</text></svg>'
    )


def perform(console: Any, who: Any, action: str, form: Mapping[str, Any]) -> str:
    """A form's action as ``who``: what happened, in words."""
    registry: Registry = console.registry(who)
    reason = str(form.get("reason") or "").strip() or None
    tf, n = str(form.get("tf") or ""), str(form.get("n") or "")
    if action == "promote":
        console.require(who, "promoter", "promote versions")
        stage = str(form.get("stage") or "")
        console.require_stage(registry, who, tf, stage)
        changes = registry.promote(tf, n, stage, reason=reason, force=form.get("force") == "on")
        if changes and changes[-1].cause.value == "request":
            return f"Asked for approval to move v{n} to {stage}."
        return f"v{n} is {stage} now." if changes else f"v{n} was {stage} already."
    if action == "rollback":
        console.require(who, "promoter", "roll back")
        console.require_stage(registry, who, tf, "champion")
        changes = registry.rollback(tf, reason=reason)
        return f"Rolled back: v{changes[-1].version} is champion." if changes else "Nothing to do."
    if action in ("approve", "reject"):
        console.require(who, "approver", f"{action} requests")
        request_id = str(form.get("request") or "")
        if action == "approve":
            made = registry.approve(request_id, reason=reason)
            moved = made[-1].moves if made else False
            return "Approved, and the move was made." if moved else "Approved."
        registry.reject(request_id, reason=reason)
        return "Rejected."
    raise ValidationError(f"no such action {action!r}")

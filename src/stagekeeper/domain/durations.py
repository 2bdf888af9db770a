"""Durations in policies: ``30s``, ``90m``, ``24h``, ``2d``, parsed exactly, kept in a
canonical form, and shown to people. Imports only the standard library and the domain's
errors.
"""

from __future__ import annotations

import re
from datetime import timedelta

from stagekeeper.domain.errors import ValidationError

_DURATION = re.compile(r"\s*(?P<amount>\d{1,12})\s*(?P<unit>[smhd])\s*")
# Ten years: past it a duration is a typo, and soon past what some store can keep.
MAX_DURATION = timedelta(days=3650)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86_400}


def duration(value: object, what: str = "soak", *, zero_allowed: bool = True) -> timedelta:
    """``30s``, ``90m``, ``24h`` or ``2d``: a whole number of one unit, up to ten years,
    so that what is stored is exactly what was written."""
    match = _DURATION.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise ValidationError(
            f"invalid {what} {value!r}: expected a whole number and a unit, such as 24h, "
            "90m or 2d (s, m, h or d)"
        )
    seconds = int(match["amount"]) * _UNIT_SECONDS[match["unit"]]
    if seconds > MAX_DURATION.total_seconds() or (not zero_allowed and not seconds):
        lowest = "0s" if zero_allowed else "1s"
        raise ValidationError(
            f"invalid {what} {value!r}: expected from {lowest} to {MAX_DURATION.days}d"
        )
    return timedelta(seconds=seconds)


def shown_duration(span: timedelta) -> str:
    """A duration as ``1d 2h 3m``, to the minute (seconds below one minute)."""
    seconds = int(span.total_seconds())
    if seconds < 60:
        return f"{max(seconds, 0)}s"
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3600)
    parts = [(days, "d"), (hours, "h"), (rest // 60, "m")]
    return " ".join(f"{amount}{unit}" for amount, unit in parts if amount) or "0m"


def canonical_duration(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    for unit in ("h", "m"):
        if seconds % _UNIT_SECONDS[unit] == 0:
            return f"{seconds // _UNIT_SECONDS[unit]}{unit}"
    return f"{seconds}s"

"""Checks for user-supplied values, each refusing with a one-line ``ValidationError``.

Every limit is checked here, before any store sees the value, so that every backend
agrees: SQLite would accept a 300-character actor that PostgreSQL refuses, and a version
past PostgreSQL's ``integer`` would overflow SQLite's driver. Imports only the standard
library and the domain errors.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Mapping

from stagekeeper.domain.errors import ValidationError

MAX_REASON_LENGTH = 2000
MAX_ACTOR_LENGTH = 255
MAX_SOURCE_LENGTH = 2000
MAX_MODEL_NAME_LENGTH = 255
# PostgreSQL's ``integer``: the narrowest version column of any backend.
MAX_VERSION = 2_147_483_647
PLACEHOLDER = "{timeframe}"
MAX_TIMEFRAME_LENGTH = 32
_TIMEFRAME = re.compile(r"[A-Za-z0-9_-]{1,32}")
_DIGITS = re.compile(r"[0-9]+")
_TEMPLATE_TEXT = re.compile(r"[A-Za-z0-9_.-]*")
# Metric names as MLflow accepts them in tag keys and search filters, a letter first.
_METRIC_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,63}")
MAX_METRICS = 100


def timeframe(value: object) -> str:
    """A timeframe is 1 to 32 letters, digits, ``_`` or ``-``; case is kept."""
    if isinstance(value, str) and _TIMEFRAME.fullmatch(value):
        return value
    raise ValidationError(
        f"invalid timeframe {_shown(value)}: use 1 to 32 letters, digits, '_' or '-' "
        "(e.g. 1H, 4H, 1D)"
    )


def version(value: object, *, what: str = "model version") -> int:
    """A version is a whole number from 1 to 2,147,483,647, or a string of its digits
    (surrounding white space is ignored, as for stages)."""
    number = _whole_number(value)
    if number is None or not 1 <= number <= MAX_VERSION:
        raise ValidationError(
            f"invalid {what} {_shown(value)}: expected a whole number from 1 to {MAX_VERSION:,}"
        )
    return number


def optional_version(value: object | None, *, what: str = "model version") -> int | None:
    return None if value is None else version(value, what=what)


def limit(value: object | None) -> int | None:
    """How many of the most recent changes to show: a whole number from 1 up."""
    return optional_version(value, what="limit")


def reason(value: object | None) -> str | None:
    """A reason is optional text of at most 2,000 characters."""
    return None if value is None else text(value, "reason", MAX_REASON_LENGTH)


def source(value: object | None) -> str | None:
    """Where a model lives (``runs:/…`` or any URI): optional text, at most 2,000 characters."""
    return None if value is None else text(value, "source", MAX_SOURCE_LENGTH)


def actor(value: object) -> str:
    """Who makes a change: 1 to 255 characters, none of them invisible or a control.

    Control and format characters (bidirectional overrides, zero-width spaces) would let
    one name display as another, or two spellings of one person pass as two people."""
    found = text(value, "actor", MAX_ACTOR_LENGTH)
    if not found.strip():
        raise ValidationError("invalid actor: it is empty; name who makes the change")
    hidden = next((c for c in found if unicodedata.category(c) in ("Cc", "Cf")), None)
    if hidden is not None:
        raise ValidationError(
            f"invalid actor {_shown(found)}: it contains the control or format character "
            f"U+{ord(hidden):04X}; a name must show as what it is"
        )
    return found


def same_actor(one: str, other: str) -> bool:
    """Whether two declared names are one person's: compared after trimming, NFKC
    normalisation and case folding, so that ``ana``, ``'ana '`` and ``Ana`` are one."""
    return actor_key(one) == actor_key(other)


def actor_key(name: str) -> str:
    """The form in which names are compared (Unicode's compatibility caseless match)."""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())
    return " ".join(folded.split())


def text(value: object, what: str, longest: int) -> str:
    """Text that every store can keep as it is: no NUL, valid Unicode, at most ``longest``."""
    if not isinstance(value, str):
        raise ValidationError(f"invalid {what} {_shown(value)}: expected text")
    if len(value) > longest:
        raise ValidationError(
            f"{what} is {len(value):,} characters long: at most {longest:,} are allowed"
        )
    if "\x00" in value:
        raise ValidationError(f"invalid {what}: it contains a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate, e.g. from bytes that are not UTF-8
        raise ValidationError(
            f"invalid {what}: it contains bytes that are not valid UTF-8 text"
        ) from None
    return value


def metric_name(value: object) -> str:
    """1 to 64 letters, digits, ``_``, ``.`` or ``-``, starting with a letter."""
    if isinstance(value, str) and _METRIC_NAME.fullmatch(value):
        return value
    raise ValidationError(
        f"invalid metric name {_shown(value)}: use a letter, then up to 63 letters, digits, "
        "'_', '.' or '-' (e.g. sharpe, max_drawdown)"
    )


def metric_value(name: str, value: object) -> float:
    """A finite number, or text that reads as one."""
    try:
        number = float(value.strip() if isinstance(value, str) else value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        number = math.nan
    if isinstance(value, bool) or not math.isfinite(number):
        raise ValidationError(f"invalid value {_shown(value)} for metric {name}: expected a number")
    return number


def metrics(values: Mapping[str, object] | None) -> dict[str, float]:
    """Named numbers, each checked; at most 100 at a time."""
    if values is None:
        return {}
    if not isinstance(values, Mapping):
        raise ValidationError(f"invalid metrics {_shown(values)}: expected names and numbers")
    if len(values) > MAX_METRICS:
        raise ValidationError(f"{len(values)} metrics given: at most {MAX_METRICS} at a time")
    return {metric_name(name): metric_value(name, value) for name, value in values.items()}


def metric_assignments(texts: Iterable[str]) -> dict[str, float]:
    """``name=value`` pairs, as the CLI's ``--metric`` takes them; a name given twice is
    refused rather than one value silently dropped."""
    found: dict[str, object] = {}
    for text in texts:
        name, equals, value = text.partition("=")
        if not equals:
            raise ValidationError(f"invalid metric {_shown(text)}: expected name=value")
        if name.strip() in found:
            raise ValidationError(f"metric {name.strip()} is given twice")
        found[name.strip()] = value
    return metrics(found)


def lock_timeout(value: object) -> float:
    """Seconds to wait for a write lock: a number above 0 and at most a day."""
    try:
        seconds = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        seconds = float("nan")
    if not 0 < seconds <= 86_400:
        raise ValidationError(
            f"invalid lock timeout {_shown(value)}: expected seconds, above 0 and at most 86400"
        )
    return seconds


def model_name_template(template: object) -> str:
    """``{timeframe}`` exactly once, around letters, digits, ``_``, ``-`` and ``.`` only.

    No other placeholder and no format spec is accepted (``{timeframe:>9999}`` would make
    every name a huge string), and the name it makes for the longest timeframe must fit
    every store's 255-character limit.
    """
    if not isinstance(template, str):
        raise ValidationError(f"invalid model name template {_shown(template)}: expected text")
    prefix, found, suffix = template.partition(PLACEHOLDER)
    if not found or not _TEMPLATE_TEXT.fullmatch(prefix + suffix):
        raise ValidationError(
            f"invalid model name template {_shown(template)}: it must contain {PLACEHOLDER} "
            "exactly once and otherwise only letters, digits, '_', '-' or '.'",
            hint="e.g. {timeframe}_trading_model",
        )
    longest = len(prefix) + MAX_TIMEFRAME_LENGTH + len(suffix)
    if longest > MAX_MODEL_NAME_LENGTH:
        raise ValidationError(
            f"model name template is too long: names could reach {longest} characters, "
            f"at most {MAX_MODEL_NAME_LENGTH} are allowed"
        )
    return template


def model_name(template: str, timeframe: str) -> str:
    """The model name for ``timeframe``: plain substitution, never ``str.format``."""
    return template.replace(PLACEHOLDER, timeframe, 1)


def _whole_number(value: object) -> int | None:
    if isinstance(value, str) and len(value) <= 40 and _DIGITS.fullmatch(value.strip()):
        return int(value.strip())
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return None


def _shown(value: object) -> str:
    """The value quoted for a message, cut short: an error line stays one readable line."""
    shown = repr(value)
    return shown if len(shown) <= 60 else f"{shown[:57]}..."

"""Checks for user-supplied values, each refusing with a one-line ``ValidationError``.

Imports only the standard library and the domain errors.
"""

from __future__ import annotations

import re

from stagekeeper.errors import ValidationError

MAX_REASON_LENGTH = 2000
_TIMEFRAME = re.compile(r"[A-Za-z0-9_-]{1,32}")
_DIGITS = re.compile(r"[0-9]+")


def timeframe(value: object) -> str:
    """A timeframe is 1 to 32 letters, digits, ``_`` or ``-``; case is kept."""
    if isinstance(value, str) and _TIMEFRAME.fullmatch(value):
        return value
    raise ValidationError(
        f"invalid timeframe {value!r}: use 1 to 32 letters, digits, '_' or '-' (e.g. 1H, 4H, 1D)"
    )


def version(value: object) -> int:
    """A version is a positive integer, or a string of digits (the seed passes "1")."""
    if isinstance(value, str) and _DIGITS.fullmatch(value.strip()):
        value = int(value.strip())
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    raise ValidationError(f"invalid model version {value!r}: expected a positive integer")


def optional_version(value: object | None) -> int | None:
    return None if value is None else version(value)


def reason(value: object | None) -> str | None:
    """A reason is optional text of at most 2,000 characters."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError(f"invalid reason {value!r}: expected text")
    if len(value) > MAX_REASON_LENGTH:
        raise ValidationError(
            f"reason is {len(value)} characters long: at most {MAX_REASON_LENGTH} are allowed"
        )
    return value


def limit(value: object | None) -> int | None:
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    raise ValidationError(f"invalid limit {value!r}: expected a positive integer")


def model_name_template(template: str) -> str:
    """The template must name the timeframe, so that every timeframe gets its own model."""
    if "{timeframe}" not in template:
        raise ValidationError(f"model name template {template!r} must contain '{{timeframe}}'")
    try:
        template.format(timeframe="1H")
    except (KeyError, IndexError, ValueError) as exc:
        raise ValidationError(f"invalid model name template {template!r}: {exc}") from exc
    return template

"""A policy's conditions on the evidence (``sharpe >= 1.0``, ``sharpe > champion.sharpe +
0.05``) and a gate's verdict. Pure: imports only the standard library and the domain.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from stagekeeper.domain.errors import ValidationError
from stagekeeper.domain.model import Metrics

_NAME = r"[A-Za-z][A-Za-z0-9_.-]{0,63}"  # as validation.metric_name
_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_CONDITION = re.compile(
    rf"\s*(?P<metric>{_NAME})\s*(?P<op>>=|<=|>|<|==)\s*"
    rf"(?:(?P<value>{_NUMBER})|champion\.(?P<other>{_NAME})"
    rf"(?:\s*(?P<sign>[-+])\s*(?P<margin>{_NUMBER}))?)\s*"
)
_COMPARE = {
    ">=": lambda a, b: a >= b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    "<": lambda a, b: a < b,
    "==": lambda a, b: a == b,
}


@dataclass(frozen=True)
class GateResult:
    """One gate's verdict: what it asks, what was found, what it requires."""

    gate: str
    passed: bool
    found: str
    required: str

    def line(self) -> str:
        return f"{self.gate}: found {self.found}, required {self.required}"


@dataclass(frozen=True)
class Condition:
    """``metric OP number`` or ``metric OP champion.metric [+|- margin]``."""

    text: str
    metric: str
    op: str
    value: float | None = None
    champion_metric: str | None = None
    margin: float = 0.0

    @classmethod
    def parse(cls, text: object) -> Condition:
        match = _CONDITION.fullmatch(text) if isinstance(text, str) else None
        if match is None:
            raise ValidationError(
                f"invalid condition {text!r}: expected 'metric OP number' or "
                "'metric OP champion.metric [+ margin]', OP one of >=, <=, >, <, ==",
                hint="e.g. 'sharpe >= 1.0' or 'sharpe > champion.sharpe + 0.05'",
            )
        sign = -1.0 if match["sign"] == "-" else 1.0
        numbers = [float(match[part] or 0.0) for part in ("value", "margin")]
        if not all(math.isfinite(number) for number in numbers):
            raise ValidationError(
                f"invalid condition {text!r}: its number is too large to compare with"
            )
        return cls(
            text=" ".join(str(text).split()),
            metric=match["metric"],
            op=match["op"],
            value=None if match["value"] is None else float(match["value"]),
            champion_metric=match["other"],
            margin=sign * float(match["margin"] or 0.0),
        )

    def judge(
        self, metrics: Metrics, champion: int | None, champion_metrics: Metrics, reigns: bool = True
    ) -> GateResult:
        """A missing metric fails; a comparison with no champion ever crowned passes. With
        none reigning, ``champion`` is the last one (``reigns`` false)."""
        found = metrics.get(self.metric)
        shown = "no value" if found is None else _number(found)
        if self.champion_metric is None:
            assert self.value is not None
            required = f"{self.op} {_number(self.value)}"
            passed = found is not None and _COMPARE[self.op](found, self.value)
            return GateResult(self.text, passed, shown, required)
        if champion is None:
            return GateResult(self.text, True, shown, "no champion ever crowned")
        whose = f"champion v{champion}" if reigns else f"last champion v{champion}, archived"
        theirs = champion_metrics.get(self.champion_metric)
        if theirs is None:
            required = f"a {whose} with a {self.champion_metric} value"
            return GateResult(self.text, False, shown, required)
        bar = theirs + self.margin
        required = f"{self.op} {_number(bar)} ({whose})"
        return GateResult(
            self.text, found is not None and _COMPARE[self.op](found, bar), shown, required
        )


def _number(value: float) -> str:
    return f"{value:g}" if math.isfinite(value) else str(value)

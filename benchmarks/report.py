"""Results: each figure with its target, pass or fail, printed as a table and kept as JSON."""

from __future__ import annotations

import json
import os
import platform
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.timing import Sample


@dataclass(frozen=True)
class Result:
    """One figure: what was measured, the figure compared with its target, and the rest."""

    name: str
    measured: str  # for people: "205 ms against 170 ms"
    value: float  # the figure the target applies to
    unit: str
    target: float | None  # the most the figure may be; None: reported, no target
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.target is None or self.value <= self.target

    @classmethod
    def ratio(cls, name: str, ours: Sample, base: Sample, target: float | None) -> Result:
        """stagekeeper's median over the baseline's, measured in the same run."""
        return cls(
            name,
            f"{_ms(ours.median)} (p95 {_ms(ours.p95)}) against {_ms(base.median)} "
            f"(p95 {_ms(base.p95)})",
            round(ours.median / base.median, 2),
            "x",
            target,
            {"stagekeeper": ours.ms(), "baseline": base.ms()},
        )


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.3g} ms" if seconds < 0.01 else f"{seconds * 1000:.0f} ms"


def machine() -> dict[str, Any]:
    memory = Path("/proc/meminfo").read_text().split()[1]
    return {
        "cores": os.cpu_count(),
        "memory_gib": round(int(memory) / 2**20),
        "python": platform.python_version(),
        "system": platform.platform(),
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def table(results: list[Result]) -> str:
    lines = ["| what | measured | figure | target | |", "|---|---|---:|---:|---|"]
    for r in results:
        target = "" if r.target is None else f"≤ {r.target:g}{r.unit}"
        verdict = "" if r.target is None else "pass" if r.passed else "**fail**"
        lines.append(f"| {r.name} | {r.measured} | {r.value:g}{r.unit} | {target} | {verdict} |")
    return "\n".join(lines)


def write_json(results: list[Result], path: Path) -> None:
    document = {
        "machine": machine(),
        "results": [{**asdict(r), "passed": r.passed} for r in results],
    }
    path.write_text(json.dumps(document, indent=2) + "\n")

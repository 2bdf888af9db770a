"""``python -m benchmarks.summary RUN.json [RUN.json ...]``: several runs of
``python -m benchmarks`` as one markdown table, each figure as the median of the runs with
their range, and whether every run met its target. The README's figures come from it."""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path


def summarize(paths: list[Path]) -> str:
    runs = [json.loads(path.read_text()) for path in paths]
    # every figure any run has, in the order the runs have them; each over the runs that
    # measured it (a run of some sections only, --only, has fewer)
    names = list(dict.fromkeys(r["name"] for run in runs for r in run["results"]))
    counts = {sum(r["name"] == name for run in runs for r in run["results"]) for name in names}
    each = f"{min(counts)}" if len(counts) == 1 else f"{min(counts)} to {max(counts)}"
    lines = [
        f"{each} runs of each figure's section of `python -m benchmarks` on "
        f"{runs[0]['machine']['cores']} cores (shared), Python {runs[0]['machine']['python']}; "
        "each figure is the median of its runs, with their range.",
        "",
        "| what | figure | range | target | met in every run |",
        "|---|---:|---|---:|---|",
    ]
    for name in names:
        found = [r for run in runs for r in run["results"] if r["name"] == name]
        values = [f["value"] for f in found]
        unit, target = found[0]["unit"], found[0]["target"]
        middle = statistics.median(values)
        spread = f"{min(values):g} to {max(values):g}{unit}" if len(values) > 1 else ""
        goal = "" if target is None else f"≤ {target:g}{unit}"
        met = "" if target is None else "yes" if all(f["passed"] for f in found) else "**no**"
        lines.append(f"| {name} | {middle:g}{unit} | {spread} | {goal} | {met} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(summarize([Path(arg) for arg in sys.argv[1:]]))

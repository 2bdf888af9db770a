"""``python -m benchmarks``: measure everything, print a table with pass or fail against
each target, and write the results as JSON (``--output``, default
``benchmarks/results.json``). Every figure is a ratio against a baseline measured in the
same run, or an absolute figure with its target. Exits 1 if a target was missed.

``--only`` runs some sections (cli, latency, scale, memory, throughput, console); ``--quick`` runs
small sizes, to try the command itself.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from benchmarks import cli_start, console, latency, memory, scale, throughput
from benchmarks.report import Result, table, write_json
from benchmarks.timing import QUIET

SECTIONS = ("cli", "latency", "scale", "memory", "throughput", "console")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--only", action="append", choices=SECTIONS)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--output", type=Path, default=Path(__file__).parent / "results.json")
    args = parser.parse_args()
    os.environ.update(QUIET)
    wanted = args.only or list(SECTIONS)
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="stagekeeper-bench-") as folder:
        if "cli" in wanted:
            results += cli_start.measure(Path(folder), runs=10 if args.quick else 40)
        if "latency" in wanted:
            versions = (100,) if args.quick else (100, 1000)
            results += latency.measure(Path(folder), 10 if args.quick else 40, versions)
        if "scale" in wanted:
            sizes = (1, 3) if args.quick else (1, 10, 100)
            results += scale.measure(Path(folder), 6 if args.quick else 20, sizes)
        if "memory" in wanted:
            results += memory.measure(10 if args.quick else 100, 1000)
        if "throughput" in wanted:
            results += throughput.measure(Path(folder), 3 if args.quick else 10, 3000)
        if "console" in wanted:
            results += console.measure(
                Path(folder), 4 if args.quick else 20, 100 if args.quick else 1000
            )
    print(table(results))
    write_json(results, args.output)
    print(f"\nwrote {args.output}")
    return 0 if all(r.passed for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())

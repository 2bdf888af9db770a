"""``python -m tests.stress``: run every stress scenario at full size on every store that
runs here, print the figures, and write them into ``docs/RELIABILITY.md``.

Starts its own PostgreSQL (unless ``STAGEKEEPER_TEST_POSTGRES_URL`` names one) and its own
``mlflow server``. Exits 1 if any invariant was violated. ``--quick`` runs the regular
suite's sizes, to try the command itself; ``--halved`` every scenario half as long (CI);
``--output`` writes elsewhere.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from tests.stress import scenarios
from tests.stress.scenarios import ROOT, Outcome
from tests.stress.stores import Store, embedded_mlflow, memory, mlflow_server, postgres, sqlite

BEGIN, END = "<!-- stress:begin -->", "<!-- stress:end -->"
SHOWN = 10  # violations printed per scenario
MLFLOW_FENCING_TESTS = [
    "backends/mlflow/tests/test_mlflow_stalls.py",
    "backends/mlflow/tests/test_mlflow_doctor.py::"
    "test_a_writer_dying_at_any_write_leaves_one_champion_and_a_repairable_state",
]


@dataclass(frozen=True)
class Sizes:
    writers: int = 8
    seconds: float = 60
    doctor_seconds: float = 30
    sql_kills: int = 50
    mlflow_kills: int = 20

    @classmethod
    def quick(cls) -> Sizes:
        return cls(seconds=4, doctor_seconds=4, sql_kills=5, mlflow_kills=2)

    @classmethod
    def halved(cls) -> Sizes:
        """CI's sizes: every scenario, half as long, so that the test suite and the stress
        run fit CI's 20 minutes; the figures in docs/RELIABILITY.md are full size."""
        return cls(seconds=30, doctor_seconds=15, sql_kills=25, mlflow_kills=10)


def scenarios_for(store: Store, sizes: Sizes) -> list[Callable[[], Outcome]]:
    """What runs on each store: everything that store can take part in."""
    doctor = lambda: scenarios.doctor_beside_writers(*store.fresh(), 3, sizes.doctor_seconds)  # noqa: E731
    if store.name == "memory":  # one process: writers are threads
        return [lambda: scenarios.doctor_beside_threads("memory://", 3, sizes.doctor_seconds)]
    if store.name == "MLflow embedded":
        return [doctor]
    plan = [lambda: scenarios.concurrency(*store.fresh(), sizes.writers, sizes.seconds), doctor]
    if store.name == "MLflow server":  # a short lease, so that doctor --fix may take over
        plan.append(lambda: scenarios.kills(*store.fresh(), sizes.mlflow_kills, lease=1.0))
    else:
        plan.append(lambda: scenarios.kills(*store.fresh(), sizes.sql_kills))
        plan.append(lambda: scenarios.sql_stalls(*store.fresh()))
    return plan


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.stress", description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--halved", action="store_true", help="every scenario, half as long (CI)")
    parser.add_argument(
        "--without-fencing-tests",
        action="store_true",
        help="skip the MLflow fencing tests: the test suite has just run them (CI)",
    )
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "RELIABILITY.md")
    args = parser.parse_args()
    os.environ.update(scenarios.QUIET)
    sizes = Sizes.quick() if args.quick else Sizes.halved() if args.halved else Sizes()
    started = time.monotonic()
    rows: list[tuple[str, Outcome]] = []
    with ExitStack() as stack:
        for opened in (sqlite(), postgres(), mlflow_server(), embedded_mlflow(), memory()):
            store = stack.enter_context(opened)
            for scenario in scenarios_for(store, sizes):
                outcome = scenario()
                print(f"{store.name:16} {_line(outcome)}", flush=True)
                for violation in outcome.violations[:SHOWN]:  # CI keeps only this output
                    print(f"{'':16} violation: {violation[:300]}", flush=True)
                rows.append((store.name, outcome))
    passed, failed = (None, 0) if args.without_fencing_tests else _mlflow_fencing_cases()
    minutes = (time.monotonic() - started) / 60
    label = (
        "the quick sizes (`--quick`)" if args.quick
        else "half size (`--halved`)" if args.halved else "full size"
    )  # fmt: skip
    report = _report(rows, passed, failed, minutes, size=label)
    _write_into(args.output, report)
    print(f"wrote {args.output}")
    return 1 if failed or any(o.violations for _, o in rows) else 0


def _line(o: Outcome) -> str:
    return (
        f"{o.scenario:12} {o.processes:>2} processes {o.operations:>6} operations "
        f"{o.kills:>3} kills {o.stalls:>2} stalls {o.doctor_runs:>5} doctor runs "
        f"{o.checks:>4} checks {len(o.violations)} violations {o.seconds:>6.1f} s"
    )


def _mlflow_fencing_cases() -> tuple[int, int]:
    """The MLflow writer frozen before, and killed at, each of its writes (pytest)."""
    ran = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *MLFLOW_FENCING_TESTS],
        cwd=ROOT, capture_output=True, text=True, env={**os.environ, **scenarios.QUIET},
    )  # fmt: skip
    counts = {k: int(v) for v, k in re.findall(r"(\d+) (passed|failed|error)", ran.stdout)}
    return counts.get("passed", 0), counts.get("failed", 0) + counts.get("error", 0)


def _machine() -> str:
    memory = Path("/proc/meminfo").read_text().split()[1]
    return (
        f"{os.cpu_count()} cores, {int(memory) / 2**20:.0f} GiB, shared; {platform.system()}, "
        f"Python {platform.python_version()}"
    )


def _report(
    rows: list[tuple[str, Outcome]],
    passed: int | None,
    failed: int,
    minutes: float,
    *,
    size: str,
) -> str:
    lines = [
        BEGIN,
        f"Last run of `python -m tests.stress` at {size}, "
        f"{datetime.now(UTC):%Y-%m-%d}: {minutes:.0f} min on {_machine()}.",
        "",
        "| store | scenario | processes | operations | kills | stalls | doctor runs "
        "| invariant checks | violations | seconds |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for store, o in rows:
        lines.append(
            f"| {store} | {o.scenario} | {o.processes} | {o.operations:,} | {o.kills} | "
            f"{o.stalls} | {o.doctor_runs:,} | {o.checks:,} | **{len(o.violations)}** | "
            f"{o.seconds:.0f} |"
        )
    total = sum(len(o.violations) for _, o in rows)
    gave_up = sum(o.gave_up for _, o in rows)
    lines += [
        "",
        f"In all: {sum(o.operations for _, o in rows):,} operations, "
        f"{sum(o.kills for _, o in rows)} kills, {sum(o.stalls for _, o in rows)} stalls, "
        f"{sum(o.doctor_runs for _, o in rows):,} doctor runs beside writers; "
        f"**{total} violations**, {gave_up} operations gave up waiting for a lock. "
        f"MLflow fencing (a writer frozen before, or killed at, each of its writes, embedded "
        "and through a server): "
        + (
            "left to the test suite."
            if passed is None
            else f"{passed} cases passed, {failed} failed."
        ),
        END,
    ]
    return "\n".join(lines)


def _write_into(path: Path, report: str) -> None:
    text = path.read_text() if path.exists() else ""
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + report + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + report + "\n"
    path.write_text(text)


if __name__ == "__main__":
    sys.exit(main())

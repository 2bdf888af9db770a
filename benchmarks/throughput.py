"""Promotions per second with 8 writer processes crowning champions at once, four on each
of two timeframes (so that they wait for each other's lock), on SQLite and PostgreSQL; and
through an MLflow server, where writers that meet take the lock and plan again (decision
record 18): what contention costs there, reported with no target."""

from __future__ import annotations

import os
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path

from benchmarks.report import Result
from benchmarks.services import mlflow_tracking_server, postgres_database
from benchmarks.timing import QUIET
from stagekeeper import Stage, open_registry

WRITERS, TIMEFRAMES = 8, ("A", "B")
ROOT = Path(__file__).resolve().parents[1]
# Through an MLflow server a promotion takes tens of milliseconds, so fewer betas will do.
MLFLOW_BETAS, MLFLOW_SOURCE = 150, "s3://bench/model"


def prepared(url: str, betas: int, source: str | None) -> None:
    with open_registry(url, actor="bench") as registry:
        for timeframe in TIMEFRAMES:
            for _ in range(betas):
                number = registry.register(timeframe, source=source).version
                registry.promote(timeframe, number, Stage.BETA)


def run(url: str, store: str, seconds: float, betas: int, source: str | None = None) -> Result:
    prepared(url, betas, source)
    per_timeframe = WRITERS // len(TIMEFRAMES)
    writers = []
    for index in range(WRITERS):
        timeframe = TIMEFRAMES[index % len(TIMEFRAMES)]
        first = index // len(TIMEFRAMES) + 1
        writers.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "benchmarks.promoter",
                    url,
                    timeframe,
                    str(first),
                    str(per_timeframe),
                    str(betas),
                    str(seconds),
                ],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                cwd=ROOT,
                env={**os.environ, **QUIET},
            )
        )
    for writer in writers:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "ready"
    for writer in writers:
        assert writer.stdin is not None
        writer.stdin.write("go\n")
        writer.stdin.flush()
    reports = [w.communicate(timeout=seconds + 120)[0].split() for w in writers]
    if any(w.returncode for w in writers):
        raise RuntimeError(f"a writer failed on {store}")
    crowned = sum(int(count) for count, _ in reports)
    took = max(float(elapsed) for _, elapsed in reports)
    return Result(
        f"champion promotions per second, {WRITERS} writer processes on {store}",
        f"{crowned:,} promotions in {took:.1f} s",
        round(crowned / took),
        "/s",
        None,
        {"promotions": crowned, "seconds": round(took, 2)},
    )


def measure(folder: Path, seconds: float, betas: int) -> list[Result]:
    results = [run(f"sqlite:///{folder / 'throughput.db'}", "SQLite", seconds, betas)]
    with ExitStack() as stack:
        results.append(run(stack.enter_context(postgres_database()), "PostgreSQL", seconds, betas))
    with mlflow_tracking_server() as http:
        url = http.replace("http://", "mlflow+http://")
        betas = min(betas, MLFLOW_BETAS)
        results.append(run(url, "an MLflow server", seconds, betas, MLFLOW_SOURCE))
    return results

"""Measuring: whole processes (for start-up) and calls in this process, reported as the
median with the spread, and ratios against a baseline measured in the same run."""

from __future__ import annotations

import os
import statistics
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

QUIET = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}


@dataclass(frozen=True)
class Sample:
    """Times of one thing, in seconds."""

    seconds: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def p95(self) -> float:
        ordered = sorted(self.seconds)
        return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]

    def ms(self) -> dict[str, float]:
        """Median, p95, min and max in milliseconds, for the JSON report."""
        return {
            "median_ms": round(self.median * 1000, 3),
            "p95_ms": round(self.p95 * 1000, 3),
            "min_ms": round(min(self.seconds) * 1000, 3),
            "max_ms": round(max(self.seconds) * 1000, 3),
        }


def processes(argv: Sequence[str], runs: int, warmup: int = 3, cwd: str | None = None) -> Sample:
    """Wall time of ``argv`` as a whole process, after ``warmup`` runs that fill caches.
    A run that fails stops the benchmark: a fast error is no measurement."""
    env = {**os.environ, **QUIET}
    seconds = []
    for run in range(warmup + runs):
        started = time.perf_counter()
        done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, check=False)
        elapsed = time.perf_counter() - started
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed: {done.stderr.decode()[-500:]}")
        if run >= warmup:
            seconds.append(elapsed)
    return Sample(tuple(seconds))


def calls(call: Callable[[int], object], runs: int, warmup: int = 2) -> Sample:
    """Wall time of ``call(i)`` for i in 0..runs-1, after ``warmup`` calls (given 0..warmup-1:
    a call that alternates on ``i``, such as scale's rollback, starts where it was left)."""
    for run in range(warmup):
        call(run)
    seconds = []
    for run in range(runs):
        started = time.perf_counter()
        call(run)
        seconds.append(time.perf_counter() - started)
    return Sample(tuple(seconds))


def in_turn(measures: Sequence[Callable[[], Sample]], rounds: int) -> list[Sample]:
    """Each measured in turn, ``rounds`` times, so that a noisy moment on a shared machine
    falls on all alike; each one's samples are pooled."""
    pooled: list[list[float]] = [[] for _ in measures]
    for _ in range(rounds):
        for measure, into in zip(measures, pooled, strict=True):
            into += measure().seconds
    return [Sample(tuple(seconds)) for seconds in pooled]

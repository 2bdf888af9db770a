"""The stress scenarios. Each runs real processes against one store and returns what it
saw; ``violations`` must come back empty.

The store is given as a URL and a model-name template, so scenarios sharing one registry
(the MLflow server) never meet.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stagekeeper import LockTimeout, Stage, open_registry
from stagekeeper.domain.stages import Cause
from stagekeeper.service.registry import Registry
from tests.stress.invariants import violations
from tests.stress.worker import TIMEFRAMES, open_for_stress, run_doctor, run_operations

ROOT = Path(__file__).resolve().parents[2]
# A crowning on SQL: the lock (BEGIN IMMEDIATE or FOR UPDATE), the update of both versions
# (one executemany), the insert of the history and the commit.
STALL_POINTS = 4
QUIET = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}


@dataclass
class Outcome:
    """What one scenario did on one store."""

    scenario: str
    processes: int = 0
    operations: int = 0
    refused: int = 0
    gave_up: int = 0
    kills: int = 0
    stalls: int = 0
    doctor_runs: int = 0
    checks: int = 0  # times the invariants were checked
    seconds: float = 0.0
    violations: list[str] = field(default_factory=list)

    def absorb(self, summary: dict[str, Any]) -> None:
        """Add one worker's JSON summary."""
        self.operations += summary.get("done", 0)
        self.refused += summary.get("refused", 0)
        self.gave_up += summary.get("gave_up", 0)
        self.doctor_runs += summary.get("runs", 0)
        self.violations += summary.get("errors", [])
        self.violations += [f"doctor beside writers: {f}" for f in summary.get("findings", [])]

    def check(self, registry: Registry, *, settled: bool) -> None:
        self.checks += 1
        self.violations += violations(registry, settled=settled)


class Worker:
    """A ``tests.stress.worker`` process, started and waited for until it is at work."""

    def __init__(self, mode: str, url: str, template: str, seed: int, seconds: float,
                 lease: float | None = None) -> None:  # fmt: skip
        env = {**os.environ, **QUIET}
        if lease is not None:
            env["STRESS_LEASE"] = str(lease)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.stress.worker", mode, url, template, str(seed),
             str(seconds)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env,
        )  # fmt: skip
        assert self.process.stdout is not None
        self.ready = self.process.stdout.readline().strip() == "ready"

    def finish(self, outcome: Outcome) -> dict[str, Any]:
        """Wait for it; add its summary, and anything it should not have said, to
        ``outcome``; return the summary."""
        stdout, stderr = self.process.communicate(timeout=600)
        if self.process.returncode != 0 or not self.ready:
            outcome.violations.append(f"worker exited {self.process.returncode}: {stderr[-500:]}")
        elif stderr.strip():
            outcome.violations.append(f"worker wrote to stderr: {stderr[-500:]}")
        lines = stdout.strip().splitlines()
        summary: dict[str, Any] = json.loads(lines[-1]) if lines else {}
        outcome.absorb(summary)
        return summary

    def stopped(self) -> bool:
        state = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state == "T"

    def kill(self) -> None:
        self.process.kill()
        self.process.communicate(timeout=60)


@contextmanager
def timed(outcome: Outcome) -> Iterator[None]:
    started = time.monotonic()
    yield
    outcome.seconds = round(time.monotonic() - started, 1)


def seeded(url: str, template: str, lease: float | None = None) -> Registry:
    """The store with a champion, a beta and a version in development per timeframe."""
    registry = open_for_stress(url, template, "setup", lease)
    for timeframe in TIMEFRAMES:
        first = registry.register(timeframe, source="s3://models/seed").version
        registry.register(timeframe, source="s3://models/seed")
        registry.promote(timeframe, first, Stage.BETA)
        registry.promote(timeframe, first, Stage.CHAMPION)
    return registry


def concurrency(url: str, template: str, processes: int, seconds: float) -> Outcome:
    """``processes`` random writers at once; the invariants checked during and after."""
    outcome = Outcome("concurrency", processes=processes)
    with timed(outcome), seeded(url, template) as registry:
        workers = [Worker("ops", url, template, seed, seconds) for seed in range(processes)]
        while any(w.process.poll() is None for w in workers):
            outcome.check(registry, settled=False)
            time.sleep(0.5)
        for worker in workers:
            worker.finish(outcome)
        outcome.check(registry, settled=True)
    return outcome


def doctor_beside_writers(url: str, template: str, writers: int, seconds: float) -> Outcome:
    """``doctor --fix`` in a loop beside random writers: it must find and record nothing."""
    outcome = Outcome("doctor", processes=writers + 1)
    with timed(outcome), seeded(url, template) as registry:
        workers = [Worker("ops", url, template, seed, seconds) for seed in range(writers)]
        workers.append(Worker("doctor", url, template, 0, seconds))
        for worker in workers:
            worker.finish(outcome)
        _nothing_repaired(registry, outcome)
    return outcome


def doctor_beside_threads(url: str, writers: int, seconds: float) -> Outcome:
    """The same with threads sharing one registry: for the in-memory store, which lives in
    one process."""
    outcome = Outcome("doctor", processes=writers + 1)
    with timed(outcome), seeded(url, "{timeframe}_trading_model") as registry:
        with ThreadPoolExecutor(writers + 1) as pool:
            running = [
                pool.submit(run_operations, registry, seed, seconds) for seed in range(writers)
            ]
            running.append(pool.submit(run_doctor, registry, seconds))
            for summary in running:
                outcome.absorb(summary.result())
        _nothing_repaired(registry, outcome)
    return outcome


def _nothing_repaired(registry: Registry, outcome: Outcome) -> None:
    repairs = [c for c in registry.history() if c.cause is Cause.REPAIR]
    outcome.violations += [f"doctor recorded a repair: {c}" for c in repairs]
    outcome.check(registry, settled=True)


def kills(url: str, template: str, count: int, lease: float | None = None) -> Outcome:
    """A writer killed with SIGKILL at a random moment, ``count`` times. On MLflow (a
    ``lease`` is given) ``doctor --fix`` finishes the dead writer's operation first."""
    chooser = random.Random(count)
    outcome = Outcome("kills", processes=1)
    with timed(outcome), seeded(url, template, lease) as registry:
        before = {c.operation_id for c in registry.history()}
        for seed in range(count):
            worker = Worker("ops", url, template, seed, 3600, lease)
            time.sleep(chooser.uniform(0.05, 0.8))
            worker.kill()
            outcome.kills += 1
            if lease is not None:
                time.sleep(lease + 0.2)
                registry.doctor(fix=True)
            outcome.check(registry, settled=True)
        # The operations the killed writers committed between them.
        outcome.operations = len({c.operation_id for c in registry.history()} - before)
    return outcome


def sql_stalls(url: str, template: str, hold: float = 1.5) -> Outcome:
    """A writer frozen with SIGSTOP before each of its lock, writes and commit, while the
    next writer tries to crown another version, ``doctor --fix`` runs and a reader reads.
    Once the frozen writer holds the lock (every point but the first) the next writer must
    wait and be refused with ``lock_timeout``, and ``doctor`` must report an operation in
    progress and change nothing; when the frozen one wakes, both promotions take effect."""
    outcome = Outcome("stalls", processes=2)
    with timed(outcome):
        for point in range(1, STALL_POINTS + 1):
            _one_stall(url, template, point, hold, outcome)
    return outcome


def _one_stall(url: str, template: str, point: int, hold: float, outcome: Outcome) -> None:
    timeframe = f"S{point}"
    with open_for_stress(url, template, "next") as registry:
        for _ in range(3):
            registry.register(timeframe, source="s3://models/stall")
        for version in (1, 2, 3):
            registry.promote(timeframe, version, Stage.BETA)
        registry.promote(timeframe, 1, Stage.CHAMPION)
        frozen = Worker(f"stall-{point}", url, template, point, 0)
        deadline = time.monotonic() + 60
        while not frozen.stopped() and time.monotonic() < deadline:
            time.sleep(0.02)
        outcome.stalls += 1
        time.sleep(hold)
        registry.list(timeframe)  # readers never wait for a frozen writer
        with open_registry(url, model_name_template=template, lock_timeout=0.5) as impatient:
            seen = [f.code for f in impatient.doctor(timeframe, fix=True)]
            if seen != (["operation-in-progress"] if point > 1 else []):
                outcome.violations.append(f"stall at {point}: doctor beside it found {seen}")
            outcome.doctor_runs += 1
            try:
                impatient.promote(timeframe, 3, Stage.CHAMPION, reason="next")
                waited = False
            except LockTimeout:
                waited = True
        os.kill(frozen.process.pid, signal.SIGCONT)
        if frozen.finish(outcome).get("points") != STALL_POINTS:
            outcome.violations.append(f"stall at {point}: the writer did not pass every point")
        if waited is not (point > 1):
            outcome.violations.append(f"stall at {point}: the next writer waited: {waited}")
        if waited:  # its promotion was refused, with nothing changed: it tries again
            registry.promote(timeframe, 3, Stage.CHAMPION, reason="next")
        crowned = [c.version for c in registry.history(timeframe) if c.to_stage is Stage.CHAMPION]
        if sorted(crowned) != [1, 2, 3]:
            outcome.violations.append(f"stall at {point}: crowned {crowned}, expected 1, 2 and 3")
        outcome.check(registry, settled=True)

"""One stress process: ``python -m tests.stress.worker MODE STORE TEMPLATE SEED SECONDS``.

Modes:
- ``ops``: random registrations, promotions and rollbacks on a few timeframes;
- ``doctor``: ``doctor --fix`` in a loop;
- ``stall-N`` (SQL stores): crown version 2 of timeframe ``S<SEED>``, freezing itself
  with SIGSTOP just before the N-th of its lock, writes and commit.

Prints ``ready`` once its store is open (so a killer knows it is at work), then one JSON
line: what it did, what was refused as the specification says, what gave up waiting, and
any error outside stagekeeper's contract (none may occur).
"""

from __future__ import annotations

import json
import os
import random
import signal
import sys
import time
from collections import Counter
from typing import Any

from stagekeeper import Stage, open_registry
from stagekeeper.domain.errors import (
    BackendError,
    ConflictError,
    LockLost,
    LockTimeout,
    StagekeeperError,
)
from stagekeeper.service.ports import StoreOptions
from stagekeeper.service.registry import Registry

TIMEFRAMES = ("1H", "4H")
SOURCE = "s3://models/stress"
# What a random writer does, with weights: a pipeline registers and promotes much more
# than it rolls back.
OPERATIONS = {"register": 3, "beta": 3, "champion": 3, "archived": 1, "rollback": 2}


def open_for_stress(url: str, template: str, actor: str, lease: float | None = None) -> Registry:
    """The registry as the CLI would open it; on MLflow, with a short lease if asked."""
    if lease is None:
        return open_registry(url, actor=actor, model_name_template=template)
    from stagekeeper_mlflow.store import MlflowStore

    options = StoreOptions(model_name_template=template)
    return Registry(MlflowStore(url, options, lease_seconds=lease), options=options, actor=actor)


def one_operation(registry: Registry, chooser: random.Random) -> str:
    """Do one random operation; return its name."""
    timeframe = chooser.choice(TIMEFRAMES)
    [name] = chooser.choices(list(OPERATIONS), weights=list(OPERATIONS.values()))
    if name == "register":
        registry.register(timeframe, source=SOURCE)
    elif name == "rollback":
        registry.rollback(timeframe, reason="stress")
    else:
        versions = registry.list(timeframe)
        if versions:
            target = chooser.choice(versions).version
            registry.promote(timeframe, target, Stage(name), reason="stress")
    return name


def run_operations(registry: Registry, seed: int, seconds: float) -> dict[str, Any]:
    chooser = random.Random(seed)
    tally: Counter[str] = Counter()
    errors: list[str] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            tally[one_operation(registry, chooser)] += 1
            tally["done"] += 1
        except (LockTimeout, ConflictError) as exc:  # gave up on the lock or on a race
            if isinstance(exc, LockLost):
                tally["lost"] += 1
            tally["gave_up"] += 1
            errors.append(f"{exc.code}: {exc.message}")
        except BackendError as exc:  # the store failed: never expected here
            errors.append(f"{exc.code}: {exc.message}")
        except StagekeeperError:  # refused as the specification says (not a champion, ...)
            tally["refused"] += 1
        except Exception as exc:  # outside the contract: a raw driver error or a bug
            errors.append(f"raw {type(exc).__name__}: {exc}")
    return {**tally, "errors": errors}


def run_doctor(registry: Registry, seconds: float) -> dict[str, Any]:
    runs, findings = 0, []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        findings += [f"{f.code}: {f.message}" for f in registry.doctor(fix=True)]
        runs += 1
    return {"runs": runs, "findings": findings}


def run_stalled(registry: Registry, timeframe: str, freeze_at: int) -> dict[str, Any]:
    """Crown v2 of ``timeframe``, freezing before the ``freeze_at``-th lock, write or commit."""
    from sqlalchemy import event

    from stagekeeper_sql.engine import WRITE
    from stagekeeper_sql.engine import _sqlite_begin as sqlite_begin

    engine = registry.store.engine  # type: ignore[attr-defined]
    seen = 0

    def count(*_args: Any) -> None:
        nonlocal seen
        seen += 1
        if seen == freeze_at:
            os.kill(os.getpid(), signal.SIGSTOP)

    def before_statement(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        words = statement.lstrip().upper()
        if words.startswith(("UPDATE", "INSERT")) or "FOR UPDATE" in words:
            count()

    def before_begin(connection: Any) -> None:
        if connection.get_execution_options().get(WRITE):
            count()

    if engine.dialect.name == "sqlite":
        # SQLite's lock is its BEGIN IMMEDIATE, which the store's "begin" listener sends to
        # the driver itself, past SQLAlchemy's statement events: stop just before it.
        event.remove(engine, "begin", sqlite_begin)
        event.listen(engine, "begin", before_begin)
        event.listen(engine, "begin", sqlite_begin)
    event.listen(engine, "before_cursor_execute", before_statement)
    event.listen(engine, "commit", count)
    changes = registry.promote(timeframe, 2, Stage.CHAMPION, reason="stalled")
    return {"done": 1, "changes": len(changes), "points": seen}


def main(mode: str, url: str, template: str, seed: int, seconds: float) -> None:
    lease = float(os.environ["STRESS_LEASE"]) if os.environ.get("STRESS_LEASE") else None
    with open_for_stress(url, template, f"{mode}-{seed}", lease) as registry:
        print("ready", flush=True)
        if mode == "ops":
            summary = run_operations(registry, seed, seconds)
        elif mode == "doctor":
            summary = run_doctor(registry, seconds)
        else:
            summary = run_stalled(registry, f"S{seed}", int(mode.removeprefix("stall-")))
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5]))

"""Flat cost as the registry grows: 1, 10 and 100 timeframes of 1,000 versions each (up
to 100,000 versions, each with a history of several changes), on SQLite and PostgreSQL.
Each operation on one timeframe is timed at each size in the same run; the figure is its
median at 100,000 versions over its median at 1,000.

The registry is built through a documented bulk path (``bulk_load``): rows written with
one executemany per table through ``stagekeeper_sql.schema``, with a history that replays
to the stages (the schema's triggers count the versions); the load time is reported.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.report import Result
from benchmarks.services import postgres_database
from benchmarks.timing import Sample
from stagekeeper import Stage, open_registry
from stagekeeper.service.registry import Registry

VERSIONS = 1000
BETAS = 100  # the newest versions, waiting in beta (promotions crown them)
CROWNED_EVERY = 100  # every 100th version was champion once (rollback targets)
TARGET_RATIO, TARGET_MS = 1.5, 20.0


def bulk_load(url: str, first: int, last: int) -> float:
    """Timeframes T<first>..T<last-1>: seconds taken. Version v is archived, except the
    newest ``BETAS`` (beta) and the last crowned, the champion."""
    from sqlalchemy import create_engine

    from stagekeeper_sql.schema import change_row, changes, timeframes, versions

    started = time.perf_counter()
    engine = create_engine(url)
    at = datetime(2026, 1, 1, tzinfo=UTC)
    champion = (VERSIONS - BETAS) // CROWNED_EVERY * CROWNED_EVERY
    with engine.begin() as connection:
        for index in range(first, last):
            name = f"T{index:03}"
            model = f"{name}_trading_model"
            version_rows, change_rows = [], []
            history: list[Any] = []
            for number in range(1, VERSIONS + 1):
                path = [None, Stage.DEVELOPMENT, Stage.BETA]
                if number % CROWNED_EVERY == 0 and number <= champion:
                    path.append(Stage.CHAMPION)
                if number <= VERSIONS - BETAS and number != champion:
                    path.append(Stage.ARCHIVED)
                for before, after in itertools.pairwise(path):
                    history.append((number, before, after))
                version_rows.append(
                    {"timeframe": name, "version": number, "stage": path[-1].value,
                     "source": f"s3://bench/{name}/{number}", "created_at": at, "updated_at": at}
                )  # fmt: skip
            for step, (number, before, after) in enumerate(history):
                change_rows.append(
                    change_row(_change(name, model, number, before, after, at, step))
                )
            # The per-stage counts start at 0: the schema's triggers count the versions.
            connection.execute(
                timeframes.insert(), [{"name": name, "model_name": model, "created_at": at}]
            )
            connection.execute(versions.insert(), version_rows)
            connection.execute(changes.insert(), change_rows)
    with engine.begin() as connection:
        connection.exec_driver_sql("ANALYZE")  # as a live database's statistics would be
    engine.dispose()
    return time.perf_counter() - started


def _change(
    timeframe: str, model: str, number: int, before: Any, after: Stage, at: datetime, step: int
) -> Any:
    from stagekeeper.domain.model import StageChange
    from stagekeeper.domain.stages import Cause

    cause = Cause.REGISTRATION if before is None else Cause.PROMOTION
    return StageChange(
        operation_id=f"bulk-{timeframe}-{step}", timeframe=timeframe, model_name=model,
        version=number, from_stage=before, to_stage=after, reason=None, actor="bulk",
        at=at + timedelta(seconds=step), cause=cause,
    )  # fmt: skip


def operations(registry: Registry, rounds: int) -> dict[str, Sample]:
    """Each operation on T000, ``rounds`` times after a warm-up."""
    champion = registry.champion("T000")
    assert champion is not None
    betas = [v.version for v in registry.list("T000", Stage.BETA)]
    timed: dict[str, Callable[[int], object]] = {
        "list --stage beta of one timeframe": lambda _: registry.list("T000", Stage.BETA),
        "status of every timeframe": lambda _: registry.status(),
        "history of one version": lambda _: registry.history("T000", 500),
        # back and forth between the champion and the previous one: both are rollbacks
        "rollback": lambda i: registry.rollback("T000", None if i % 2 == 0 else champion.version),
        "champion promotion": lambda _: registry.promote("T000", betas.pop(), Stage.CHAMPION),
    }
    found = {}
    for name, call in timed.items():
        for warm in range(2):
            call(warm)
        if name == "rollback":  # leave it where it was: an even number of rollbacks
            rounds += rounds % 2
        seconds = []
        for i in range(rounds):
            started = time.perf_counter()
            call(i)
            seconds.append(time.perf_counter() - started)
        found[name] = Sample(tuple(seconds))
    return found


def measure_store(url: str, store: str, rounds: int, sizes: tuple[int, ...]) -> list[Result]:
    by_size: dict[int, dict[str, Sample]] = {}
    loaded = 0
    load_seconds = 0.0
    open_registry(url).close()  # the schema
    for size in sizes:
        load_seconds += bulk_load(url, loaded, size)
        loaded = size
        with open_registry(url, actor="bench") as registry:
            by_size[size] = operations(registry, rounds)
    small, large = sizes[0], sizes[-1]
    results = []
    for name in by_size[small]:
        at_small, at_large = by_size[small][name], by_size[large][name]
        ratio = round(at_large.median / at_small.median, 2)
        results.append(
            Result(
                f"{name} on {store}: {large * VERSIONS:,} versions against {small * VERSIONS:,}",
                " / ".join(
                    f"{by_size[s][name].median * 1000:.2f} ms at {s * VERSIONS:,}" for s in sizes
                ),
                ratio,
                "x",
                TARGET_RATIO,
                {f"{s * VERSIONS}": by_size[s][name].ms() for s in sizes},
            )
        )
        results.append(
            Result(
                f"{name} on {store} at {large * VERSIONS:,} versions",
                f"p95 {at_large.p95 * 1000:.2f} ms",
                round(at_large.median * 1000, 2),
                " ms",
                TARGET_MS,
                at_large.ms(),
            )
        )
    results.append(
        Result(
            f"bulk load of {large * VERSIONS:,} versions on {store}",
            f"{load_seconds:.1f} s",
            round(load_seconds, 1),
            " s",
            None,
        )
    )
    return results


def measure(folder: Path, rounds: int, sizes: tuple[int, ...]) -> list[Result]:
    results = measure_store(f"sqlite:///{folder / 'scale.db'}", "SQLite", rounds, sizes)
    with ExitStack() as stack:
        url = stack.enter_context(postgres_database())
        results += measure_store(url, "PostgreSQL", rounds, sizes)
    return results

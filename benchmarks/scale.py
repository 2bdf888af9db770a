"""Flat cost as the registry grows: 1, 10 and 100 timeframes of 1,000 versions each (up
to 100,000 versions, each with a history of several changes), on SQLite and PostgreSQL.
Each operation on one timeframe is timed at each size in the same run, on a registry of
each size loaded first and timed in turn, two calls at a time (so that a busy moment on a
shared machine does not land on one size alone); the figure is its median at 100,000
versions over its median at 1,000.

``status`` answers with a row per timeframe, so across those sizes its answer grows a
hundredfold with the registry. Its flatness is measured on registries whose answer stays
the same: 100 timeframes of 10, 100 and 1,000 versions (1,000 to 100,000 versions). Its
time over 1 and 100 timeframes is reported beside, as the cost of a longer answer.

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

from tests.services.postgres import create_database

from benchmarks.report import Result
from benchmarks.services import postgres_server
from benchmarks.timing import Sample, calls, in_turn
from stagekeeper import Stage, open_registry
from stagekeeper.service.registry import Registry

VERSIONS = 1000
BETAS = 100  # the newest versions, waiting in beta (promotions crown them)
CROWNED_EVERY = 100  # every 100th version was champion once (rollback targets)
TARGET_RATIO, TARGET_MS = 1.5, 20.0
STATUS = "status of every timeframe"
STATUS_TIMEFRAMES = 100
TURN = 2  # calls timed on one registry before the next size's turn (even: see rollback)


def bulk_load(url: str, timeframe_count: int, count: int = VERSIONS) -> float:
    """Timeframes T000.. (``timeframe_count`` of them) of ``count`` versions each, into a
    registry whose schema exists and holds none: seconds taken. Version v is archived,
    except the newest tenth (beta) and the last crowned (every tenth was champion once), the
    champion."""
    from sqlalchemy import create_engine

    from stagekeeper_sql.schema import change_row, changes, timeframes, versions

    started = time.perf_counter()
    engine = create_engine(url)
    at = datetime(2026, 1, 1, tzinfo=UTC)
    betas, crowned_every = count * BETAS // VERSIONS, count * CROWNED_EVERY // VERSIONS
    champion = (count - betas) // crowned_every * crowned_every
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            # The triggers update each timeframe's row once per version in this one
            # transaction; on a fresh table, which looks small, the planner would scan
            # every row version left so far for each update, instead of using the key.
            connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
        for index in range(timeframe_count):
            name = f"T{index:03}"
            model = f"{name}_trading_model"
            version_rows, change_rows = [], []
            history: list[Any] = []
            for number in range(1, count + 1):
                path = [None, Stage.DEVELOPMENT, Stage.BETA]
                if number % crowned_every == 0 and number <= champion:
                    path.append(Stage.CHAMPION)
                if number <= count - betas and number != champion:
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
    _settle(engine)
    engine.dispose()
    return time.perf_counter() - started


def _settle(engine: Any) -> None:
    """Leave the tables as a live registry's would be: with statistics, and on PostgreSQL
    compacted. The bulk path counts versions through the schema's triggers, so each
    timeframe's row is updated once per version inside one transaction: a thousand dead row
    versions each, which a live registry never piles up (each operation commits on its own,
    and autovacuum keeps a hundred-row table small). Left there, they make every read of the
    timeframes table scan a thousand pages for a hundred rows. Only that table is rewritten:
    the others hold no dead rows. They are vacuumed, as autovacuum would have done long
    since in a live registry; left to it, it starts on freshly loaded tables while the
    benchmark measures."""
    from stagekeeper_sql.schema import timeframes

    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        if engine.dialect.name == "postgresql":
            connection.exec_driver_sql(f"VACUUM FULL {timeframes.name}")
            connection.exec_driver_sql("VACUUM ANALYZE")
        else:
            connection.exec_driver_sql("ANALYZE")  # as a live database's statistics would be


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


def operations(registry: Registry) -> dict[str, Callable[[int], object]]:
    """Each operation on T000, as a call to time (given the call's number)."""
    champion = registry.champion("T000")
    assert champion is not None
    betas = [v.version for v in registry.list("T000", Stage.BETA)]
    return {
        "list --stage beta of one timeframe": lambda _: registry.list("T000", Stage.BETA),
        STATUS: lambda _: registry.status(),
        "history of one version": lambda _: registry.history("T000", 500),
        # back and forth between the champion and the previous one: both are rollbacks (an
        # even number of calls, as each turn makes, leaves the registry where it was)
        "rollback": lambda i: registry.rollback("T000", None if i % 2 == 0 else champion.version),
        "champion promotion": lambda _: registry.promote("T000", betas.pop(), Stage.CHAMPION),
    }


def in_turn_calls(calls_by_size: list[Callable[[int], object]], rounds: int) -> list[Sample]:
    """The same operation on registries of each size, ``TURN`` calls at a time in turn, so
    that a busy moment on a shared machine does not land on one size alone."""
    return in_turn(
        [lambda call=call: calls(call, TURN) for call in calls_by_size], max(1, rounds // TURN)
    )


def loaded(
    fresh: Callable[[int], str], sizes: tuple[int, ...], load: Callable[[str, int], float]
) -> tuple[dict[int, str], float]:
    """A registry per size (``fresh(size)`` gives its URL), loaded by ``load(url, size)``:
    their URLs, and the seconds the last (the largest) took."""
    urls = {size: fresh(size) for size in sizes}
    seconds = 0.0
    for size, url in urls.items():
        open_registry(url).close()  # the schema
        seconds = load(url, size)
    return urls, seconds


def measure_store(
    fresh: Callable[[int], str], store: str, rounds: int, sizes: tuple[int, ...]
) -> list[Result]:
    """Each operation on registries of each size (``fresh(size)`` gives the URL of one),
    loaded first and then timed in turn."""
    urls, load_seconds = loaded(fresh, sizes, lambda url, size: bulk_load(url, size))
    with ExitStack() as stack:
        ops = [
            operations(stack.enter_context(open_registry(urls[size], actor="bench")))
            for size in sizes
        ]
        by_name = {name: in_turn_calls([op[name] for op in ops], rounds) for name in ops[0]}
    by_size = {
        size: {name: samples[index] for name, samples in by_name.items()}
        for index, size in enumerate(sizes)
    }
    small, large = sizes[0], sizes[-1]
    results = []
    for name in by_size[small]:
        at_small, at_large = by_size[small][name], by_size[large][name]
        ratio = round(at_large.median / at_small.median, 2)
        # status answers a row per timeframe: its flatness is status_growth's figure
        answer = f" ({large} timeframes against {small})" if name == STATUS else ""
        results.append(
            Result(
                f"{name} on {store}: {large * VERSIONS:,} versions against "
                f"{small * VERSIONS:,}{answer}",
                " / ".join(
                    f"{by_size[s][name].median * 1000:.2f} ms at {s * VERSIONS:,}" for s in sizes
                ),
                ratio,
                "x",
                None if name == STATUS else TARGET_RATIO,
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


def status_growth(
    fresh: Callable[[int], str], store: str, rounds: int, counts: tuple[int, ...]
) -> Result:
    """``status`` over ``STATUS_TIMEFRAMES`` timeframes of each count of versions, each in
    a registry of its own (``fresh(count)`` gives its URL): an answer of the same size."""
    urls, _ = loaded(fresh, counts, lambda url, count: bulk_load(url, STATUS_TIMEFRAMES, count))
    with ExitStack() as stack:
        registries = [stack.enter_context(open_registry(urls[c], actor="bench")) for c in counts]
        # sub-millisecond calls: ten times as many
        samples = in_turn_calls([lambda _, r=r: r.status() for r in registries], rounds * 10)
    by_count = dict(zip(counts, samples, strict=True))
    small, large = counts[0] * STATUS_TIMEFRAMES, counts[-1] * STATUS_TIMEFRAMES
    return Result(
        f"{STATUS} on {store}, {STATUS_TIMEFRAMES} timeframes: {large:,} versions against "
        f"{small:,}",
        " / ".join(
            f"{by_count[c].median * 1000:.2f} ms at {c * STATUS_TIMEFRAMES:,}" for c in counts
        ),
        round(by_count[counts[-1]].median / by_count[counts[0]].median, 2),
        "x",
        TARGET_RATIO,
        {f"{c * STATUS_TIMEFRAMES}": by_count[c].ms() for c in counts},
    )


def measure(folder: Path, rounds: int, sizes: tuple[int, ...]) -> list[Result]:
    counts = tuple(size * VERSIONS // 100 for size in sizes)  # 100 timeframes: same totals
    results = measure_store(
        lambda size: f"sqlite:///{folder / f'scale-{size}.db'}", "SQLite", rounds, sizes
    )
    results.append(
        status_growth(
            lambda count: f"sqlite:///{folder / f'status-{count}.db'}", "SQLite", rounds, counts
        )
    )
    with ExitStack() as stack:
        server = stack.enter_context(postgres_server())
        results += measure_store(
            lambda _: create_database(server, "bench"), "PostgreSQL", rounds, sizes
        )
        results.append(
            status_growth(lambda _: create_database(server, "status"), "PostgreSQL", rounds, counts)
        )
    return results

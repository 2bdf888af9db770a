"""The in-memory store's footprint: 100 timeframes of 1,000 versions, each with a history of
three changes (registered, beta, archived), built through the public API, measured with
``tracemalloc`` (Python's own allocations, the store's whole content)."""

from __future__ import annotations

import gc
import time
import tracemalloc

from benchmarks.report import Result
from stagekeeper import Stage, open_registry

TARGET_MB = 200


def measure(timeframes: int, versions: int) -> list[Result]:
    gc.collect()
    tracemalloc.start()
    started = time.perf_counter()
    registry = open_registry("memory://", actor="bench")
    for index in range(timeframes):
        name = f"T{index:03}"
        for _ in range(versions):
            number = registry.register(name, source=f"s3://bench/{name}").version
            registry.promote(name, number, Stage.BETA)
            registry.promote(name, number, Stage.ARCHIVED)
    built = time.perf_counter() - started
    gc.collect()
    held, _peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    total = timeframes * versions
    megabytes = held / 2**20
    registry.close()
    return [
        Result(
            f"the in-memory store holding {total:,} versions and {3 * total:,} changes",
            f"{megabytes:.0f} MB, built through the API in {built:.1f} s",
            round(megabytes, 1),
            " MB",
            TARGET_MB,
            {"bytes": held, "build_seconds": round(built, 2)},
        )
    ]

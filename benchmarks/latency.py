"""Promotion latency: a champion promotion with its auto-demotion, on every store, next to
a raw baseline doing the same minimal work by hand in the same run (interleaved, one of
each in turn): one SQLAlchemy Core transaction with the same row writes, or the
hand-written ``MlflowClient`` sequence."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from benchmarks.report import Result
from benchmarks.services import mlflow_tracking_server, postgres_database
from benchmarks.timing import Sample
from stagekeeper import Stage, open_registry
from stagekeeper.service.registry import Registry


def prepared(
    registry: Registry, timeframe: str, count: int, beta: int, source: str | None = None
) -> None:
    """``count`` versions, the first ``beta`` in beta and v1 champion: ready to be crowned
    in turn."""
    for _ in range(count):
        registry.register(timeframe, source=source)
    for number in range(1, beta + 1):
        registry.promote(timeframe, number, Stage.BETA)
    registry.promote(timeframe, 1, Stage.CHAMPION)


def side_by_side(calls: Sequence[Callable[[int], object]], rounds: int) -> list[Sample]:
    """Each called with versions 2, 3, ... in turn, one of each, after a warm-up of 3."""
    import time

    times: list[list[float]] = [[] for _ in calls]
    for round_ in range(rounds + 3):
        version = round_ + 2
        for call, into in zip(calls, times, strict=True):
            started = time.perf_counter()
            call(version)
            if round_ >= 3:
                into.append(time.perf_counter() - started)
    return [Sample(tuple(seconds)) for seconds in times]


def sql_baseline(url: str, timeframe: str) -> Callable[[int], object]:
    """By hand: archive the champion, crown the version, two change rows; one transaction."""
    engine = create_engine(url)
    insert = text(
        "INSERT INTO stagekeeper_changes (operation_id, timeframe, model_name, version, "
        "from_stage, to_stage, actor, at, cause) VALUES (:op, :tf, 'm', :v, :f, :t, 'raw', "
        ":at, :cause)"
    )

    def crown(version: int) -> None:
        at = datetime.now(UTC)
        with engine.begin() as connection:
            connection.execute(
                text(
                    "UPDATE stagekeeper_versions SET stage = 'archived', updated_at = :at "
                    "WHERE timeframe = :tf AND version = :old"
                ),
                {"at": at, "tf": timeframe, "old": version - 1},
            )
            connection.execute(
                text(
                    "UPDATE stagekeeper_versions SET stage = 'champion', updated_at = :at "
                    "WHERE timeframe = :tf AND version = :v"
                ),
                {"at": at, "tf": timeframe, "v": version},
            )
            connection.execute(
                insert,
                [
                    {"op": "raw", "tf": timeframe, "v": version - 1, "f": "champion",
                     "t": "archived", "at": at, "cause": "auto-demotion"},
                    {"op": "raw", "tf": timeframe, "v": version, "f": "beta",
                     "t": "champion", "at": at, "cause": "promotion"},
                ],
            )  # fmt: skip

    return crown


def sql(url: str, name: str, rounds: int) -> Result:
    with open_registry(url, actor="bench") as registry:
        prepared(registry, "SK", rounds + 5, rounds + 5)
        prepared(registry, "RAW", rounds + 5, rounds + 5)
        ours, base = side_by_side(
            [lambda v: registry.promote("SK", v, Stage.CHAMPION), sql_baseline(url, "RAW")],
            rounds,
        )
    return Result.ratio(
        f"champion promotion on {name}, against one hand-written Core transaction",
        ours,
        base,
        1.5,
    )


def memory(rounds: int, batches: int = 10) -> Result:
    """``batches`` of ``rounds * 10`` promotions, a tenth of a second apart, after a warm-up
    of 3. One batch takes about 25 ms: a busy moment of the shared machine as long (the
    other core at work, which may share this one's caches) would otherwise set the whole
    figure; spread out, it sets a batch's worth of samples at most."""
    import time

    count = rounds * 10 * batches
    with open_registry("memory://", actor="bench") as registry:
        prepared(registry, "SK", count + 5, count + 5)
        versions = iter(range(2, count + 5))
        for _ in range(3):
            registry.promote("SK", next(versions), Stage.CHAMPION)
        seconds: list[float] = []
        for _ in range(batches):
            time.sleep(0.1)
            for _ in range(rounds * 10):
                version = next(versions)
                started = time.perf_counter()
                registry.promote("SK", version, Stage.CHAMPION)
                seconds.append(time.perf_counter() - started)
        ours = Sample(tuple(seconds))
    us = ours.median * 1e6
    return Result(
        "champion promotion in memory",
        f"{us:.0f} µs (p95 {ours.p95 * 1e6:.0f} µs)",
        round(us, 1),
        " µs",
        None,  # reported with its spread: an absolute figure of a shared machine's speed
        {"stagekeeper": ours.ms()},
    )


STAGE_TAG = "stagekeeper.stage"
SOURCE = "s3://bench/model"


def mlflow_baseline(client: Any, name: str) -> Callable[[int], object]:
    """By hand with ``MlflowClient``: move the alias, re-tag the new and the old champion."""

    def crown(version: int) -> None:
        client.set_registered_model_alias(name, "champion", str(version))
        client.set_model_version_tag(name, str(version), STAGE_TAG, "champion")
        client.set_model_version_tag(name, str(version - 1), STAGE_TAG, "archived")

    return crown


def kept_by_hand(client: Any, name: str, count: int, beta: int) -> None:
    """What ``prepared`` leaves, made with ``MlflowClient`` alone, as a team without
    stagekeeper would have it: the same versions, stage tags and alias, and no history."""
    client.create_registered_model(name)
    for number in range(1, count + 1):
        stage = "champion" if number == 1 else "beta" if number <= beta else "development"
        client.create_model_version(name, SOURCE, tags={STAGE_TAG: stage}, await_creation_for=0)
    client.set_registered_model_alias(name, "champion", "1")


def target(url: str, versions: int) -> float | None:
    """Through a server, 1.1x at 100 versions and 1.0x from 1,000; embedded, reported."""
    if not url.startswith("mlflow+http"):
        return None
    return 1.1 if versions < 1000 else 1.0


def mlflow(url: str, name: str, rounds: int, versions: int) -> list[Result]:
    """A promotion against the sequence twice: on a model kept by hand (the target), and on a
    model stagekeeper keeps. MLflow's server reads a model's tags on every write to it, so
    the two sequences differ by what stagekeeper's tags on the model cost other clients (its
    history now lives in a model of its own; in the model's tags it made this 3.5x)."""
    from mlflow.tracking import MlflowClient

    from benchmarks.requests import counting_requests
    from stagekeeper_mlflow.lookups import PAGE_SIZE

    uri = url.removeprefix("mlflow+")
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    template = f"v{versions}_{{timeframe}}"  # models of their own on a shared server
    with open_registry(url, actor="bench", model_name_template=template) as registry:
        # Betas for the timed rounds (2 to rounds + 4), the two counted, and one to list.
        prepared(registry, "SK", versions, rounds + 7, source=SOURCE)
        prepared(registry, "RAW", versions, rounds + 7, source=SOURCE)
        by_hand = registry.model_name("HAND")
        kept_by_hand(client, by_hand, versions, rounds + 7)
        # Counted warm, as the timed ones are: a store's first write also asks, once,
        # whether the server checks users.
        registry.promote("SK", rounds + 6, Stage.CHAMPION)
        mlflow_baseline(client, by_hand)(rounds + 6)
        with counting_requests() as ours_count:
            registry.promote("SK", rounds + 5, Stage.CHAMPION)
        with counting_requests() as base_count:
            mlflow_baseline(client, by_hand)(rounds + 5)
        ours, on_ours, on_hand = side_by_side(
            [
                lambda v: registry.promote("SK", v, Stage.CHAMPION),
                mlflow_baseline(client, registry.model_name("RAW")),
                mlflow_baseline(client, by_hand),
            ],
            rounds,
        )
        with counting_requests() as list_count:
            listed = registry.list("SK", Stage.BETA)
    sequence = "the hand-written MlflowClient sequence"
    result = Result.ratio(
        f"champion promotion on {name} ({versions} versions), against {sequence} "
        "on a model kept by hand",
        ours,
        on_hand,
        target(url, versions),
    )
    result.data["requests"] = {"stagekeeper": ours_count.total, "baseline": base_count.total}
    result.data["in_sequence"] = {
        "stagekeeper": ours_count.in_sequence,
        "baseline": base_count.in_sequence,
    }
    results = [
        result,
        Result.ratio(
            f"champion promotion on {name} ({versions} versions), against {sequence} "
            "on a model stagekeeper keeps",
            ours,
            on_ours,
            None,
        ),
        Result.ratio(
            f"{sequence} on {name} ({versions} versions): on a model stagekeeper keeps "
            "(the same versions, stagekeeper's history beside it), against one kept by hand",
            on_ours,
            on_hand,
            None,
        ),
    ]
    if not url.startswith("mlflow+http"):
        return results  # embedded: no HTTP to count
    path = Result(
        f"champion promotion on {name} ({versions} versions): HTTP requests, and round trips "
        f"in sequence (the critical path), against {sequence}",
        f"{ours_count.total} requests in {ours_count.in_sequence} round trips, against "
        f"{base_count.total} in {base_count.in_sequence}",
        ours_count.in_sequence,
        " round trips",
        None,
        {"requests": result.data["requests"], "in_sequence": result.data["in_sequence"]},
    )
    results.append(path)
    pages = -(-versions // PAGE_SIZE)
    # The history's requests give the listed versions' updated_at: the newest records, then
    # a search for each listed version whose last move is older.
    history = list_count.naming("stagekeeper history of")
    listing = Result(
        f"list --stage beta of one timeframe on {name} ({versions} versions): HTTP requests "
        "for the model and its versions",
        f"{list_count.total - history} for {len(listed)} versions (the model, then a search "
        f"per page), and {history} to the history, for their updated_at",
        list_count.total - history,
        "",
        1 + pages,
    )
    return [*results, listing]


def measure(folder: Path, rounds: int, mlflow_versions: tuple[int, ...]) -> list[Result]:
    # A SQL promotion takes about a millisecond: ten times the rounds of an MLflow one
    # cost little, and keep one slow commit (a WAL checkpoint) from moving the median.
    results = [memory(rounds)]
    results.append(sql(f"sqlite:///{folder / 'latency.db'}", "a SQLite file", rounds * 10))
    with ExitStack() as stack:
        database = stack.enter_context(postgres_database())
        results.append(sql(database, "PostgreSQL", rounds * 10))
        server = stack.enter_context(mlflow_tracking_server()).replace("http://", "mlflow+http://")
        for count in mlflow_versions:
            embedded = f"mlflow+sqlite:///{folder / f'mlflow-{count}.db'}"
            results += mlflow(embedded, "embedded MLflow", rounds, count)
            results += mlflow(server, "an MLflow server", rounds, count)
    return results

"""Flat cost as the registry grows: every statement that ``list --stage``, ``status``,
``history`` of a version, ``rollback`` and a promotion run finds its rows through an index,
as the database's own planner (EXPLAIN) says; and the per-stage counts that ``status``
reads stay true, through writes, doctor repairs and the migration that adds them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Connection, event, text

from stagekeeper import Stage, open_registry
from stagekeeper.service.registry import Registry
from stagekeeper_sql import migrate

BIG_TABLES = ("stagekeeper_versions", "stagekeeper_changes")


@pytest.fixture
def registry(url: str) -> Iterator[Registry]:
    with open_registry(url, actor="ana") as registry:
        for timeframe in ("1H", "4H"):
            for version in (1, 2, 3):
                registry.register(timeframe, source="s3://m")
                registry.promote(timeframe, version, Stage.BETA)
            registry.promote(timeframe, 1, Stage.CHAMPION)
            registry.promote(timeframe, 2, Stage.CHAMPION)
        yield registry


# Other timeframes' rows, written straight into the tables, so that the planner sees a
# registry of some size (its choices on a handful of rows say nothing).
FILL = [
    "INSERT INTO stagekeeper_timeframes (name, model_name, created_at) "
    "SELECT 'B' || CAST(i AS TEXT), 'B' || CAST(i AS TEXT) || '_model', CURRENT_TIMESTAMP "
    "FROM n WHERE i <= 20",
    "INSERT INTO stagekeeper_versions (timeframe, version, stage, created_at, updated_at) "
    "SELECT 'B' || CAST(i % 20 + 1 AS TEXT), i / 20 + 1, CASE i % 3 WHEN 0 THEN 'archived' "
    "WHEN 1 THEN 'beta' ELSE 'development' END, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP FROM n",
    "INSERT INTO stagekeeper_changes (operation_id, timeframe, model_name, version, "
    "to_stage, actor, at, cause) SELECT 'op', 'B' || CAST(i % 20 + 1 AS TEXT), 'm', "
    "(i / 3) / 20 + 1, CASE i % 3 WHEN 0 THEN 'champion' ELSE 'beta' END, 'bulk', "
    "CURRENT_TIMESTAMP, 'promotion' FROM n",
]
SERIES = "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 9999) "


@pytest.fixture
def sized(registry: Registry) -> Registry:
    engine = registry.store.engine  # type: ignore[attr-defined]
    with engine.begin() as connection:
        for statement in FILL:
            into, rest = statement.split(" SELECT ", 1)
            if connection.dialect.name == "sqlite":
                connection.execute(text(f"{SERIES}{into} SELECT {rest}"))
            else:
                connection.execute(text(f"{into} {SERIES} SELECT {rest}"))
        connection.exec_driver_sql("ANALYZE")
    return registry


@contextmanager
def statements(registry: Registry) -> Iterator[list[tuple[str, Any]]]:
    """The SELECTs the store runs meanwhile, with their parameters."""
    seen: list[tuple[str, Any]] = []
    engine = registry.store.engine  # type: ignore[attr-defined]

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "alembic" not in statement:
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def full_scans(
    connection: Connection, statement: str, parameters: Any, *, as_if_big: bool = True
) -> list[str]:
    """Where a statement reads more of a big table than its answer, by the database's own
    plan: a scan of the table; on SQLite a sort (which needs every matching row first), on
    PostgreSQL rows that an index found and a filter threw away. ``as_if_big=False`` asks
    PostgreSQL for the plan it would choose for the tables as they are."""
    if connection.dialect.name == "sqlite":
        plan = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
        return [
            row[-1]
            for row in plan
            if row[-1].startswith("USE TEMP B-TREE") or _scans_a_big_table(row[-1])
        ]
    if as_if_big:  # tiny tables: make the planner show the plan it would choose for big ones
        connection.exec_driver_sql("SET enable_seqscan = off")
    [[plan]] = connection.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {statement}", parameters).all()
    return [
        f"{node['Node Type']} on {node['Relation Name']}: {node.get('Filter', '')}"
        for node in _nodes(plan[0]["Plan"])
        if node.get("Relation Name") in BIG_TABLES
        and (node["Node Type"] == "Seq Scan" or _filters_beyond_one_version(node))
    ]


def _filters_beyond_one_version(node: dict[str, Any]) -> bool:
    """Rows an index found and a filter then threw away, more than one version's own."""
    kept_to_one = "version =" in node.get("Index Cond", "")
    skips_one = node.get("Filter", "").startswith("(version <>")
    return "Filter" in node and not (kept_to_one or skips_one)


def _scans_a_big_table(detail: str) -> bool:
    # The partial index holds one row per timeframe: its scan is no table scan.
    return (
        detail.startswith("SCAN")
        and any(table in detail for table in BIG_TABLES)
        and "stagekeeper_one_champion" not in detail
    )


def _nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", []):
        yield from _nodes(child)


OPERATIONS = {
    "list --stage": lambda r: r.list("1H", Stage.ARCHIVED),
    "status": lambda r: r.status(),
    "history of a version": lambda r: r.history("1H", 2),
    "rollback": lambda r: r.rollback("1H"),
    "promotion": lambda r: r.promote("1H", 3, Stage.CHAMPION),
    "champion": lambda r: r.champion("1H"),
}


@pytest.mark.parametrize("operation", OPERATIONS)
def test_every_query_finds_its_rows_through_an_index(sized: Registry, operation: str) -> None:
    with statements(sized) as seen:
        OPERATIONS[operation](sized)
    assert seen
    engine = sized.store.engine  # type: ignore[attr-defined]
    with engine.connect() as connection:
        scans = {s: full_scans(connection, s, p) for s, p in seen}
    assert {s: found for s, found in scans.items() if found} == {}


@pytest.mark.postgres
def test_a_promotion_reads_by_primary_key_before_any_statistics(postgres_url: str) -> None:
    """A timeframe registered a moment ago, before autovacuum has analyzed it: PostgreSQL's
    planner takes it for a handful of rows, and a filter on the timeframe's rows (version
    or champion) would read every one of them at each promotion."""
    with open_registry(postgres_url, actor="ana") as registry:
        for _ in range(150):
            registry.register("1H", source="s3://m")
        registry.promote("1H", 2, Stage.BETA)
        registry.promote("1H", 1, Stage.BETA)
        registry.promote("1H", 1, Stage.CHAMPION)
        with statements(registry) as seen:
            registry.promote("1H", 2, Stage.CHAMPION)
        with registry.store.engine.connect() as connection:  # type: ignore[attr-defined]
            scans = {s: full_scans(connection, s, p, as_if_big=False) for s, p in seen}
    assert {s: found for s, found in scans.items() if found} == {}


def test_rollback_finds_the_previous_champion_in_one_query(registry: Registry) -> None:
    registry.promote("1H", 3, Stage.CHAMPION)  # crowned 1, 2, 3: back to 2
    with statements(registry) as seen:
        [dethroned, restored] = registry.rollback("1H")
    assert (dethroned.version, restored.version) == (3, 2)
    assert sum("stagekeeper_changes" in s for s, _ in seen) <= 2  # the target, was-champion


def expected_status(registry: Registry) -> dict[str, tuple[int | None, dict[Stage, int]]]:
    """Counted the slow way, from every version."""
    counted: dict[str, tuple[int | None, dict[Stage, int]]] = {}
    for version in registry.list():
        _, counts = counted.setdefault(version.timeframe, (None, dict.fromkeys(Stage, 0)))
        counts[version.stage] += 1
        if version.stage is Stage.CHAMPION:
            counted[version.timeframe] = (version.version, counts)
    return counted


def shown_status(registry: Registry) -> dict[str, tuple[int | None, dict[Stage, int]]]:
    return {s.timeframe: (s.champion, s.counts) for s in registry.status()}


def test_the_kept_counts_follow_every_write_even_by_hand(registry: Registry) -> None:
    registry.rollback("1H")
    registry.promote("4H", 3, Stage.ARCHIVED)
    registry.register("1D")
    assert shown_status(registry) == expected_status(registry)
    engine = registry.store.engine  # type: ignore[attr-defined]
    with engine.begin() as connection:  # changes made behind stagekeeper's back
        connection.execute(
            text("UPDATE stagekeeper_versions SET stage = 'archived' WHERE version = 3")
        )
        connection.execute(text("DELETE FROM stagekeeper_versions WHERE version = 1"))
    assert shown_status(registry) == expected_status(registry)


def test_the_migration_counts_what_a_store_holds_already(registry: Registry, url: str) -> None:
    before = shown_status(registry)
    config = migrate.alembic_config()
    engine = registry.store.engine  # type: ignore[attr-defined]
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0001")
    with open_registry(url, check_schema=False) as old:
        old.upgrade_schema()
    with open_registry(url) as upgraded:
        assert shown_status(upgraded) == before == expected_status(upgraded)
        assert json.dumps(sorted(before)) == '["1H", "4H"]'

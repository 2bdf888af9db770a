"""Every timeframe's summary in a few queries and an index seek per timeframe, whatever
the store's size: the console's overview at 100 timeframes of 1,000 versions would
otherwise make near a thousand queries.
Imports the domain, the ports and the store's statements.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import (
    ARRAY,
    Connection,
    Integer,
    Select,
    String,
    and_,
    bindparam,
    func,
    literal_column,
    select,
    tuple_,
)

from stagekeeper.domain.model import Metrics, ModelVersion
from stagekeeper.domain.stages import Stage
from stagekeeper.service.ports import TimeframeSummary
from stagekeeper_sql.schema import changes, count_column, metrics, timeframes, versions
from stagekeeper_sql.statements import in_stage, to_change, to_version, versions_query


def summaries(connection: Connection, newest_betas: int) -> list[TimeframeSummary]:
    names = {row.name: row for row in connection.execute(select(timeframes)).all()}
    champions = {
        row.timeframe: to_version(row._mapping, row.model_name)
        for row in connection.execute(versions_query().where(in_stage(Stage.CHAMPION))).all()
    }
    betas = _newest(connection, names, newest_betas)
    crowned = {c.timeframe: c for c in map(to_change, connection.execute(_CROWNINGS).all())}
    last = {c.timeframe: c for c in map(to_change, connection.execute(_LAST).all())}
    shown = [(v.timeframe, v.version) for v in [*champions.values(), *_flat(betas)]]
    values = _metrics(connection, shown)
    return [
        TimeframeSummary(
            timeframe=name, champion=champions.get(name), crowning=crowned.get(name),
            betas=betas.get(name, []), beta_count=row._mapping[count_column(Stage.BETA)],
            metrics=values.get(name, {}), last=last.get(name),
        )
        for name, row in sorted(names.items())
        if any(row._mapping[count_column(stage)] for stage in Stage)
    ]  # fmt: skip


def _newest(
    connection: Connection, names: dict[str, Any], count: int
) -> dict[str, list[ModelVersion]]:
    """Each timeframe's newest betas, each an index seek (a scan of every beta would grow
    with the store): one query with LATERAL on PostgreSQL, a query each on SQLite, where a
    query costs no round trip."""
    betas: dict[str, list[ModelVersion]] = defaultdict(list)
    if connection.dialect.name == "postgresql":
        newest = (
            select(versions)
            .where(versions.c.timeframe == timeframes.c.name)
            .where(in_stage(Stage.BETA))
            .order_by(versions.c.version.desc())
            .limit(bindparam("count"))
            .correlate(timeframes)
            .lateral()
        )
        query = select(newest, timeframes.c.model_name).select_from(
            timeframes.join(newest, literal_column("true"))
        )
        rows = connection.execute(query, {"count": count}).all()
    else:
        rows = [
            found
            for name, row in names.items()
            if row._mapping[count_column(Stage.BETA)]
            for found in connection.execute(
                _NEWEST_BETAS.where(versions.c.timeframe == name), {"count": count}
            ).all()
        ]
    for row in rows:
        betas[row.timeframe].append(to_version(row._mapping, row.model_name))
    return betas


def _flat(found: dict[str, list[ModelVersion]]) -> list[ModelVersion]:
    return [version for listed in found.values() for version in listed]


def _metrics(connection: Connection, pairs: list[tuple[str, int]]) -> dict[str, dict[int, Metrics]]:
    found: dict[str, dict[int, dict[str, float]]] = defaultdict(lambda: defaultdict(dict))
    if pairs:
        for row in connection.execute(_metrics_of(connection, pairs)).all():
            found[row.timeframe][row.version][row.name] = float(row.value)
    return {tf: dict(numbers) for tf, numbers in found.items()}


def _metrics_of(connection: Connection, pairs: list[tuple[str, int]]) -> Select[Any]:
    """On PostgreSQL the pairs go as two arrays: a list of hundreds of pairs would be
    planned as as many OR'd conditions, which costs more than the read, and more still once
    the driver prepares it."""
    pair = tuple_(metrics.c.timeframe, metrics.c.version)
    if connection.dialect.name != "postgresql":
        return select(metrics).where(pair.in_(pairs))
    names, numbers = zip(*pairs, strict=True)
    shown = (
        func.unnest(
            bindparam("names", list(names), type_=ARRAY(String)),
            bindparam("numbers", list(numbers), type_=ARRAY(Integer)),
        )
        .table_valued("timeframe", "version")
        .render_derived()
    )
    return select(metrics).where(pair.in_(select(shown.c.timeframe, shown.c.version)))


_NEWEST_BETAS = (
    versions_query()
    .where(in_stage(Stage.BETA))
    .order_by(versions.c.version.desc())
    .limit(bindparam("count"))
)
# Each champion's newest crowning (a metrics record on a champion is no crowning).
_CROWNING_IDS = (
    select(func.max(changes.c.id))
    .select_from(changes.join(versions, and_(
        changes.c.timeframe == versions.c.timeframe, changes.c.version == versions.c.version)))
    .where(in_stage(Stage.CHAMPION))
    .where(changes.c.to_stage == literal_column("'champion'"))
    .where(changes.c.from_stage.is_distinct_from("champion"))
    .group_by(changes.c.timeframe)
)  # fmt: skip
_CROWNINGS = select(changes).where(changes.c.id.in_(_CROWNING_IDS))
# Each timeframe's newest change: one index seek per timeframe, not a scan of the history.
_LAST_IDS = select(
    select(func.max(changes.c.id))
    .where(changes.c.timeframe == timeframes.c.name)
    .correlate(timeframes)
    .scalar_subquery()
).select_from(timeframes)
_LAST = select(changes).where(changes.c.id.in_(_LAST_IDS))

"""Turning domain objects into JSON-ready data and into rich tables for people.

The JSON shapes are a public contract (see the README); change them with care.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.table import Table

from stagekeeper.model import ModelVersion, StageChange, TimeframeStatus
from stagekeeper.stages import Stage

Data = dict[str, Any]


def timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def version_data(version: ModelVersion) -> Data:
    return {
        "timeframe": version.timeframe,
        "model_name": version.model_name,
        "version": version.version,
        "stage": version.stage.value,
        "created_at": timestamp(version.created_at),
        "updated_at": timestamp(version.updated_at),
        "source": version.source,
    }


def change_data(change: StageChange) -> Data:
    return {**change.as_record(), "at": timestamp(change.at)}


def status_data(status: TimeframeStatus) -> Data:
    return {
        "timeframe": status.timeframe,
        "model_name": status.model_name,
        "champion": status.champion,
        "counts": {stage.value: count for stage, count in status.counts.items()},
    }


def versions_table(versions: Iterable[ModelVersion]) -> Table:
    table = Table("timeframe", "model", "version", "stage", "updated (UTC)", "source")
    for v in versions:
        table.add_row(
            v.timeframe,
            v.model_name,
            str(v.version),
            v.stage.value,
            _short(v.updated_at),
            v.source or "",
        )
    return table


def changes_table(changes: Iterable[StageChange]) -> Table:
    table = Table("at (UTC)", "timeframe", "version", "from", "to", "cause", "actor", "reason")
    for c in changes:
        table.add_row(
            _short(c.at),
            c.timeframe,
            str(c.version),
            c.from_stage.value if c.from_stage else "-",
            c.to_stage.value,
            c.cause.value,
            c.actor,
            c.reason or "",
        )
    return table


def status_table(statuses: Iterable[TimeframeStatus]) -> Table:
    # The champion column names the version; the other stages are counted.
    counted = [stage for stage in Stage if stage is not Stage.CHAMPION]
    table = Table("timeframe", "model", "champion", *(f"# {stage.value}" for stage in counted))
    for s in statuses:
        champion = "-" if s.champion is None else f"v{s.champion}"
        table.add_row(s.timeframe, s.model_name, champion, *(str(s.counts[st]) for st in counted))
    return table


def show_empty_or(console: Console, table: Table, empty: str) -> None:
    console.print(table if table.row_count else empty)


def _short(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")

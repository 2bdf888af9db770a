"""A timeframe read inside the SQL write transaction that holds its lock: what a planner
may read. Imports the domain, the ports and the store's statements.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from stagekeeper.domain.approvals import ApprovalRequest
from stagekeeper.domain.model import Metrics, ModelVersion, StageChange
from stagekeeper.domain.stages import Stage
from stagekeeper_sql.statements import (
    VERSION_AND_CHAMPION,
    previous_champion_query,
    to_version,
    was_champion_query,
)

if TYPE_CHECKING:
    from stagekeeper_sql.store import SqlStore


class LockedView:
    """A timeframe read inside the write transaction that holds its lock. Reads are kept
    for the rest of the step (nobody else can change them under the lock), and the first
    version asked for comes with the champion, in one query: a promotion asks for both."""

    _UNKNOWN: Any = object()

    def __init__(self, store: SqlStore, connection: Connection, timeframe: str) -> None:
        self.store, self.connection, self.timeframe = store, connection, timeframe
        self._found: dict[int, ModelVersion | None] = {}
        self._champion: ModelVersion | None = self._UNKNOWN
        self._policy_revision: tuple[int, int] | None = None

    def get(self, version: int) -> ModelVersion | None:
        if version not in self._found:
            rows = self.connection.execute(
                VERSION_AND_CHAMPION, {"tf": self.timeframe, "number": version}
            ).all()
            read = {row.version: to_version(row._mapping, row.model_name) for row in rows}
            if rows:
                self._policy_revision = (rows[0].policy_newest, rows[0].policy_rows)
            self._found.update(read)
            self._found.setdefault(version, None)
            self._champion = next((v for v in read.values() if v.stage is Stage.CHAMPION), None)
        return self._found[version]

    def champion(self) -> ModelVersion | None:
        if self._champion is self._UNKNOWN:
            self._champion = self.store.champion(self.timeframe, within=self.connection)
            if self._champion is not None:
                self._found[self._champion.version] = self._champion
        return self._champion

    def versions(self) -> list[ModelVersion]:
        return self.store.versions(self.timeframe, within=self.connection)

    def history(self) -> list[StageChange]:
        return self.store.history(self.timeframe, within=self.connection)

    def previous_champion(self, current: int | None) -> ModelVersion | None:
        """The newest crowning whose version is archived now, other than ``current``: one
        query, down the ``stagekeeper_changes_crowning`` index."""
        query = previous_champion_query(self.timeframe, current)
        rows = self.connection.execute(query).all()
        return to_version(rows[0]._mapping, rows[0].model_name) if rows else None

    def was_champion(self, version: int) -> bool:
        query = was_champion_query(self.timeframe, version)
        return bool(self.connection.execute(query).scalar())

    def metrics(self, version: int) -> Metrics:
        return self.store.metrics(self.timeframe, version, within=self.connection)

    def requests(self) -> list[ApprovalRequest]:
        return self.store.requests(self.timeframe, within=self.connection)

    def policies(self) -> dict[str | None, Mapping[str, Any]]:
        return self.store.policies(within=self.connection, revision=self._policy_revision)

"""History rows that were changed by hand into something stagekeeper cannot read.

A row with a time that is no time, or a stage or cause stagekeeper never records, would
otherwise fail every reader with a driver's ``ValueError``. Readers raise ``DamagedStore``
naming the first such row instead, and ``doctor`` lists them all (``damaged-history``).
The scan reads the raw text of the columns, so it works where the typed read fails.
Imports the domain and SQLAlchemy.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, String, cast, select

from stagekeeper.domain.doctor import DAMAGED_HISTORY
from stagekeeper.domain.errors import DamagedStore
from stagekeeper.domain.model import Finding
from stagekeeper.domain.stages import Cause, Stage
from stagekeeper_sql.schema import changes

_STAGES = {stage.value for stage in Stage}
_CAUSES = {cause.value for cause in Cause}
HINT = "stagekeeper doctor lists every damaged row; correct or remove them by hand"


def damaged_rows(connection: Connection, timeframe: str | None = None) -> list[Finding]:
    """A finding for every history row of ``timeframe`` (else all) that cannot be read."""
    query = select(
        changes.c.id,
        changes.c.timeframe,
        changes.c.version,
        changes.c.from_stage,
        changes.c.to_stage,
        changes.c.cause,
        cast(changes.c.at, String).label("at"),
    ).order_by(changes.c.id)
    if timeframe is not None:
        query = query.where(changes.c.timeframe == timeframe)
    found = []
    for row in connection.execute(query):
        fault = _fault(row.from_stage, row.to_stage, row.cause, row.at)
        if fault is not None:
            found.append(
                Finding(
                    timeframe=row.timeframe,
                    version=row.version,
                    code=DAMAGED_HISTORY,
                    message=f"history row {row.id} ({row.timeframe} v{row.version}) {fault}",
                    remedy="",  # what it said is lost: a person must decide
                )
            )
    return found


def damaged(connection: Connection, timeframe: str | None, cause: Exception) -> DamagedStore:
    """The error for a history read that failed on a row's values."""
    rows = damaged_rows(connection, timeframe)
    where = rows[0].message if rows else f"a history row is unreadable ({cause})"
    more = f" and {len(rows) - 1} more" if len(rows) > 1 else ""
    return DamagedStore(f"the store's history is damaged: {where}{more}", hint=HINT)


def _fault(from_stage: str | None, to_stage: str, cause: str, at: str | None) -> str | None:
    if from_stage is not None and from_stage not in _STAGES:
        return f"has from_stage {from_stage!r}, no stage of stagekeeper's"
    if to_stage not in _STAGES:
        return f"has to_stage {to_stage!r}, no stage of stagekeeper's"
    if cause not in _CAUSES:
        return f"has cause {cause!r}, none that stagekeeper records"
    try:
        datetime.fromisoformat(str(at))
    except ValueError:
        return f"has the time {str(at)[:40]!r}, which is no time"
    return None

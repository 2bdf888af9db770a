"""Following the history on PostgreSQL: a connection of its own that LISTENs for the
changes trigger's NOTIFY (migration 0006), opened when first asked to wait. Imports the
schema and the engine's error translation.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import URL

from stagekeeper_sql.engine import translated_errors
from stagekeeper_sql.schema import EVENTS_CHANNEL


class Listener:
    def __init__(self, url: URL) -> None:
        import psycopg

        dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
        with translated_errors(url):
            self._connection: Any = psycopg.connect(dsn, autocommit=True)
            self._connection.execute(f"LISTEN {EVENTS_CHANNEL}")

    def wait(self, timeout: float) -> bool:
        """Whether a commit was notified within ``timeout`` seconds."""
        return any(True for _ in self._connection.notifies(timeout=timeout, stop_after=1))

    def close(self) -> None:
        self._connection.close()

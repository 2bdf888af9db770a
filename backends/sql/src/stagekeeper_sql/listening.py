"""Following the history on PostgreSQL: a connection of its own that LISTENs for the
changes trigger's NOTIFY (migration 0006), opened when first asked to wait. Imports the
schema and the engine's error translation.
"""

from __future__ import annotations

import threading
import time
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


class Listening:
    """The store's one ``Listener``, opened by the first wait of any thread (a console
    serves many), and never again once the store is closed: a wait that outlives the store
    (a live page's thread at shutdown) is a plain wait, not a connection left open."""

    def __init__(self, url: URL) -> None:
        self.url = url
        self._lock = threading.Lock()
        self._listener: Listener | None = None
        self._closed = False

    def wait(self, timeout: float) -> bool:
        with self._lock:
            if self._listener is None and not self._closed:
                self._listener = Listener(self.url)
            listener = self._listener
        if listener is None:
            time.sleep(timeout)
            return False
        return listener.wait(timeout)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._listener is not None:
                self._listener.close()
                self._listener = None

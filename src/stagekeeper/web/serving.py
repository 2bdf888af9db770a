"""The console under uvicorn, as ``stagekeeper serve`` and the tests run it.

A live page holds its response open for as long as it is shown, and uvicorn waits for the
open responses before it stops: alone, it would wait on Ctrl-C until every reader closed
their tab. This server tells the console it is stopping first, and the streams end within
a second (``Console.streaming``); a request that hangs is cancelled after ``GRACE_SECONDS``.
"""

from __future__ import annotations

import contextlib
import socket

import uvicorn
from starlette.applications import Starlette

from stagekeeper.web.console import Console

GRACE_SECONDS = 10


class Server(uvicorn.Server):
    def __init__(self, app: Starlette, host: str, port: int) -> None:
        config = uvicorn.Config(
            app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=GRACE_SECONDS
        )
        super().__init__(config)
        self.console: Console = app.state.console

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self.console.stopping.set()
        await super().shutdown(sockets)


def serve(app: Starlette, host: str, port: int) -> None:
    """Serve ``app`` until Ctrl-C (or SIGTERM)."""
    with contextlib.suppress(KeyboardInterrupt):  # uvicorn raises again the signal it caught
        Server(app, host, port).run()

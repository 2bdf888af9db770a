"""A free TCP port on 127.0.0.1, for the servers the tests start (``postgres.py`` keeps
its own copy: CI runs it as a script, outside the package)."""

from __future__ import annotations

import socket


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])

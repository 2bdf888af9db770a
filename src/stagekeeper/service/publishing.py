"""The publishing seam: the last step of the one write path.

Every committed operation is handed, exactly once, to the registry's ``Publish`` callable.
Today nothing listens by default; events, sinks and in-process subscriptions plug in here.
Imports only the domain.
"""

from __future__ import annotations

from collections.abc import Callable

from stagekeeper.domain.model import Committed

Publish = Callable[[Committed], None]


def publish_nothing(_committed: Committed) -> None:
    """The default: no one is listening yet."""

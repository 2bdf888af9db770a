"""The publishing seam: the last step of the one write path.

Every committed operation is handed, exactly once, to the ``Publish`` callable the registry
was opened with (``open_registry(publish=...)``): an in-process listener's hook. Nothing
listens by default. Events and sinks do not plug in here: they read the history after the
fact (``service.events``, ``service.delivery``), so that a change made by any process, or
by hand, reaches them too. Imports only the domain.
"""

from __future__ import annotations

from collections.abc import Callable

from stagekeeper.domain.model import Committed

Publish = Callable[[Committed], None]


def publish_nothing(_committed: Committed) -> None:
    """The default: no one is listening yet."""

"""What every command shares: opening the registry and printing its result.

A command runs inside ``command_session``. Failures are not handled here: they travel to
the funnel (``stagekeeper.cli.funnel``), which reports every kind alike. User text is data,
never markup: the console interprets no ``[tags]``, emoji codes or highlighting.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from stagekeeper.cli import paging
from stagekeeper.cli.funnel import json_requested

if TYPE_CHECKING:  # imported when a command runs and draws, not for --help
    from rich.console import Console

    from stagekeeper.service.registry import Registry


class Session:
    """One command's output channel and, once opened, its registry."""

    def __init__(self, json_output: bool) -> None:
        self.json_output = json_output
        self._registry: Registry | None = None

    def open(
        self,
        store: str | None,
        actor: str | None,
        *,
        writes: bool,
        create: bool | None = None,
        check_schema: bool = True,
    ) -> Registry:
        """Open the store (else the one named before the command). A missing store is
        created only for a command that ``writes`` versions (``create`` says otherwise)."""
        from stagekeeper.bootstrap import open_registry
        from stagekeeper.cli.options import given_before_command
        from stagekeeper.cli.start import started

        store_before, actor_before = given_before_command.get()
        self._registry = open_registry(
            store or store_before,
            actor=actor or actor_before,
            check_schema=check_schema,
            create=writes if create is None else create,
        )
        started()
        return self._registry

    def emit(
        self, data: Any, show: Callable[[Console], None], *, paged: bool | None = None
    ) -> None:
        """Print ``{"data": data}`` with ``--json``, else let ``show`` draw it for people:
        through the user's pager when ``paged`` (a long history on a terminal, as git does;
        ``False`` is ``--no-pager``)."""
        if self.json_output:
            sys.stdout.write(json.dumps({"data": data}, indent=2) + "\n")
            return
        console = _console()
        pager = None if paged is None else paging.pager_command(turned_off=not paged)
        if pager is None:
            show(console)
            return
        with console.capture() as captured:
            show(console)
        paging.page(captured.get(), pager)

    def say(self, text: str) -> None:
        """Print plain text as it is (a diagram, a message), unless ``--json`` is on."""
        if not self.json_output:
            sys.stdout.write(text)

    def close(self) -> None:
        if self._registry is not None:
            self._registry.close()


@contextmanager
def command_session(json_output: bool) -> Iterator[Session]:
    """Run a command body with a session, and close its registry afterwards."""
    json_output = json_output or bool(json_requested.get())  # or the root's --json
    json_requested.set(json_output)
    session = Session(json_output)
    try:
        yield session
    finally:
        session.close()


def _console() -> Console:
    from rich.console import Console

    # Piped output gets room for whole rows; a terminal keeps its own width.
    return Console(
        soft_wrap=False,
        width=None if sys.stdout.isatty() else 200,
        markup=False,
        emoji=False,
        highlight=False,
    )

"""What every command shares: opening the registry, printing results, and the error funnel.

A command runs inside ``command_session``; any ``StagekeeperError`` becomes a one-line
message on stderr (and a JSON error envelope on stdout with ``--json``) and the error's
exit code. ``STAGEKEEPER_DEBUG=1`` lets the traceback through instead.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import typer
from rich.console import Console

from stagekeeper.api import open_registry
from stagekeeper.errors import StagekeeperError
from stagekeeper.service import Registry


class Session:
    """One command's output channel and, once opened, its registry."""

    def __init__(self, json_output: bool) -> None:
        self.json_output = json_output
        # Piped output gets room for whole rows; a terminal keeps its own width.
        self.console = Console(soft_wrap=False, width=None if sys.stdout.isatty() else 200)
        self._registry: Registry | None = None

    def open(self, store: str | None, actor: str | None, *, check_schema: bool = True) -> Registry:
        self._registry = open_registry(store, actor=actor, check_schema=check_schema)
        return self._registry

    def emit(self, data: Any, show: Callable[[Console], None]) -> None:
        """Print ``{"data": data}`` with ``--json``, else let ``show`` draw it for people."""
        if self.json_output:
            typer.echo(json.dumps({"data": data}, indent=2))
        else:
            show(self.console)

    def close(self) -> None:
        if self._registry is not None:
            self._registry.close()


@contextmanager
def command_session(json_output: bool) -> Iterator[Session]:
    """Run a command body; turn failures into one line and an exit code."""
    session = Session(json_output)
    try:
        yield session
    except typer.Exit:  # a command's own exit code; click's Exit is a RuntimeError
        raise
    except StagekeeperError as exc:
        _fail(session, exc.code, exc.message, exc.hint, exc.exit_code, exc)
    except Exception as exc:  # a bug must still not print a traceback at users
        _fail(session, "internal", f"unexpected {type(exc).__name__}: {exc}", None, 1, exc)
    finally:
        session.close()


def _fail(
    session: Session, code: str, message: str, hint: str | None, exit_code: int, exc: Exception
) -> None:
    if os.environ.get("STAGEKEEPER_DEBUG") == "1":
        raise exc
    if session.json_output:
        error: dict[str, str] = {"code": code, "message": message}
        if hint:
            error["hint"] = hint
        typer.echo(json.dumps({"error": error}, indent=2))
    one_line = " ".join(message.split())
    print(f"error: {one_line}" + (f" (hint: {hint})" if hint else ""), file=sys.stderr)
    raise typer.Exit(exit_code) from None

"""Shell completion (``stagekeeper --install-completion``): stage names, the timeframes the
store holds and, once a timeframe is given, its version numbers.

A completion reads the store the command line names (``--store`` before or after the
command, else the settings); it never creates one, and a store it cannot read completes
nothing rather than print an error into the shell.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import typer

from stagekeeper.domain.stages import Stage

if TYPE_CHECKING:
    from stagekeeper.service.registry import Registry


def stages(incomplete: str) -> list[str]:
    return [stage.value for stage in Stage if stage.value.startswith(incomplete.lower())]


def timeframes(ctx: typer.Context, incomplete: str) -> list[str]:
    found = _reading(ctx, lambda registry: [s.timeframe for s in registry.status()])
    return [timeframe for timeframe in found if timeframe.lower().startswith(incomplete.lower())]


def versions(ctx: typer.Context, incomplete: str) -> list[str]:
    timeframe = _given(ctx, "timeframe")
    if timeframe is None:  # every timeframe's numbers would mean nothing
        return []
    found = _reading(ctx, lambda registry: [str(v.version) for v in registry.list(timeframe)])
    return [number for number in found if number.startswith(incomplete)]


def _reading(ctx: typer.Context, read: Callable[[Registry], list[str]]) -> list[str]:
    from stagekeeper.bootstrap import open_registry

    try:
        with open_registry(_given(ctx, "store"), create=False) as registry:
            return read(registry)
    except Exception:  # any failure: a shell completing must never show an error
        return []


def _given(ctx: typer.Context, name: str) -> Any:
    """``name``'s value on the command line so far: the command's own, else the root's."""
    current: Any = ctx  # Click's contexts above a Typer one
    while current is not None:
        if current.params.get(name):
            return current.params[name]
        current = current.parent
    return None

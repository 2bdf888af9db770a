"""The ``stagekeeper`` console script's entry point (and ``python -m stagekeeper``'s).

A command lives for a fraction of a second, most of it spent importing Typer, SQLAlchemy
and rich. While those modules load, Python's cyclic garbage collector makes full passes
over the growing heap and finds next to nothing to free: about 25 ms of a ``list`` on
SQLite here. So collection is off while a command starts; once its store is open
(``started``), everything loaded so far is frozen out of later passes and collection
resumes, so that a long-running command such as ``events --follow`` collects as usual,
over what it creates itself. A library user's process is never touched.
"""

from __future__ import annotations

import gc

_deferred = False


def main() -> None:
    global _deferred
    _deferred = gc.isenabled()
    gc.disable()
    from stagekeeper.cli.app import main as run

    run()


def started() -> None:
    """The command has loaded what it needs: resume collection, skipping what is loaded."""
    global _deferred
    if _deferred:
        _deferred = False
        gc.freeze()
        gc.enable()

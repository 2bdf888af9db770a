"""Long output through the user's pager on a terminal, as git does.

The pager is ``STAGEKEEPER_PAGER``, else ``PAGER``, else ``less`` (with ``LESS=FRX`` unless
``LESS`` is set: it quits at once when the output fits the screen, and shows colours).
``--no-pager`` (before the command or after it), an empty value or ``cat`` turn it off, and
so does output that is not a terminal. A pager that cannot be found is skipped, not an error.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import subprocess
import sys

from stagekeeper.cli.funnel import ScrubbedStream
from stagekeeper.cli.options import no_pager


def pager_command(turned_off: bool = False) -> str | None:
    """The command to page through, or ``None`` to write straight to the output."""
    if turned_off or no_pager.get() or not sys.stdout.isatty():
        return None
    command = os.environ.get("STAGEKEEPER_PAGER", os.environ.get("PAGER", "less")).strip()
    try:
        program = shlex.split(command)[0] if command else ""
    except ValueError:  # unbalanced quotes: not a command this can run
        return None
    if program in ("", "cat") or shutil.which(program) is None:
        return None
    return command


def page(text: str, command: str) -> None:
    """Show ``text`` through ``command``, scrubbed as the output stream would have it."""
    if isinstance(sys.stdout, ScrubbedStream):
        text = sys.stdout.scrub(text)
    sys.stdout.flush()
    environment = {**os.environ, "LESS": os.environ.get("LESS", "FRX")}
    # The user's own command, run by the shell as git runs it; Ctrl-C in the pager ends
    # the reading, not with a traceback.
    with contextlib.suppress(KeyboardInterrupt):
        subprocess.run(
            command, shell=True, input=text.encode("utf-8"), env=environment, check=False
        )

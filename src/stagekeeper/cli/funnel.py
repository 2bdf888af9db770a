"""The CLI's one error funnel and its one output choke point.

Everything a command writes to stdout or stderr passes through a ``ScrubbedStream`` that
masks credentials (``stagekeeper.domain.redaction``), and every failure, whether a stagekeeper
error, a usage error from the parser, or a bug, ends here as:

- one line on stderr: ``error: <message> (hint: <hint>)``;
- with ``--json``, one ``{"error": {"code", "message", "hint"}}`` document on stdout;
- the exit code of its error code (``EXIT_CODES``).

``STAGEKEEPER_DEBUG=1`` adds the (scrubbed) traceback on stderr and keeps the exit code.
"""

from __future__ import annotations

import io
import itertools
import json
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from contextlib import redirect_stderr, redirect_stdout
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TextIO

import typer

from stagekeeper.domain.errors import BackendError, StagekeeperError
from stagekeeper.domain.redaction import Redactor, from_environment, mask_credentials

JSON_FLAG = "--json"
STORE_OPTION = "--store"
USAGE_EXIT = 2
INTERNAL_EXIT = 4
EXIT_CODES: dict[str, int] = {
    "error": 1,
    "not_found": 1,
    "conflict": 1,
    "concurrent_update": 1,
    "lock_timeout": 1,
    "lock_lost": 1,
    "transition_not_allowed": 1,
    "gate_failed": 1,
    "forbidden": 1,
    "invalid_input": USAGE_EXIT,
    "usage": USAGE_EXIT,
    "store_unavailable": 3,
    "internal": INTERNAL_EXIT,
}
BUG_HINT = "this is a bug in stagekeeper: STAGEKEEPER_DEBUG=1 shows the traceback"

# Whether the running command asked for JSON, once its own options have been parsed;
# before that (a usage error) the funnel reads the raw arguments.
json_requested: ContextVar[bool | None] = ContextVar("json_requested", default=None)
# The command line being run, for what must be known before the parser is done (--version).
arguments: ContextVar[Sequence[str]] = ContextVar("arguments", default=())


@dataclass(frozen=True)
class Failure:
    """What the user is told about an error, whatever raised it."""

    code: str
    message: str
    hint: str | None = None

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.code]

    def line(self) -> str:
        text = " ".join(self.message.split())
        return f"error: {text}" + (f" (hint: {' '.join(self.hint.split())})" if self.hint else "")

    def document(self) -> str:
        error = {"code": self.code, "message": self.message}
        if self.hint:
            error["hint"] = self.hint
        return json.dumps({"error": error}, indent=2)


class ScrubbedStream(io.TextIOBase):
    """A text stream that masks credentials in everything written through it, and never
    fails on a character its terminal cannot encode."""

    def __init__(self, inner: TextIO, redactor: Redactor) -> None:
        self._inner = inner
        self._redactor = redactor

    def write(self, text: str) -> int:
        clean = self._redactor(text)
        try:
            self._inner.write(clean)
        except UnicodeEncodeError:
            encoding = self.encoding
            self._inner.write(clean.encode(encoding, "backslashreplace").decode(encoding))
        return len(text)

    def scrub(self, text: str) -> str:
        """``text`` as this stream would write it: for output that leaves by another way
        (a pager)."""
        return self._redactor(text)

    def flush(self) -> None:
        self._inner.flush()

    def isatty(self) -> bool:
        return self._inner.isatty()

    def fileno(self) -> int:  # terminal size look-ups ask for it
        return self._inner.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self._inner, "encoding", None) or "utf-8"


def guarded(argv: Sequence[str], run: Callable[[], Any]) -> int:
    """Run a command with scrubbed output; return its exit code, failures reported."""
    redactor = from_environment(store_urls(argv))
    stdout = ScrubbedStream(sys.stdout, redactor)
    stderr = ScrubbedStream(sys.stderr, redactor)
    token = json_requested.set(None)
    given = arguments.set(argv)
    try:
        with redirect_stdout(stdout), redirect_stderr(stderr):
            try:
                result = run()
            except Exception as exc:  # the funnel: every failure ends here
                return report(exc, wants_json(argv))
        return result if isinstance(result, int) else 0
    finally:
        json_requested.reset(token)
        arguments.reset(given)


def store_urls(argv: Sequence[str]) -> list[str]:
    """The store URLs given on the command line: where the secrets to mask come from (the
    environment's are the redactor's own; a settings file's are learned when it is read)."""
    found = [value for flag, value in itertools.pairwise(argv) if flag == STORE_OPTION]
    return found + [arg.partition("=")[2] for arg in argv if arg.startswith(STORE_OPTION + "=")]


def report(exc: Exception, json_output: bool) -> int:
    """Tell the user about ``exc`` in the error contract's form; return the exit code."""
    failure = failure_of(exc)
    if os.environ.get("STAGEKEEPER_DEBUG") == "1":
        sys.stderr.write(mask_credentials("".join(traceback.format_exception(exc))))
    if json_output:
        sys.stdout.write(failure.document() + "\n")
    sys.stderr.write(failure.line() + "\n")
    return failure.exit_code


def failure_of(exc: Exception) -> Failure:
    """The failure to report; a store's or a bug's message may quote a driver, which may
    quote a URL, so those (and only those) are masked by pattern too."""
    if isinstance(exc, BackendError):
        hint = None if exc.hint is None else mask_credentials(exc.hint)
        return Failure(exc.code, mask_credentials(exc.message), hint)
    if isinstance(exc, StagekeeperError):
        return Failure(exc.code, exc.message, exc.hint)
    if isinstance(exc, typer.TyperException):
        return _usage(exc)
    if isinstance(exc, typer.Abort):
        return Failure("error", "aborted")
    message = mask_credentials(f"unexpected {type(exc).__name__}: {exc}")
    return Failure("internal", message, BUG_HINT)


def _usage(exc: typer.TyperException) -> Failure:
    """A parser error in stagekeeper's form, keeping its suggestion as the hint."""
    possibilities = getattr(exc, "possibilities", None)
    context = getattr(exc, "ctx", None)
    if "No such command 'mlflow'" in exc.format_message():
        return Failure(
            "usage", "no command 'mlflow': the MLflow backend is not installed",
            "pip install stagekeeper-mlflow (from a checkout: pip install -e backends/mlflow)",
        )  # fmt: skip
    if possibilities:  # the parser's own suggestion, e.g. for --model-vrsion
        return Failure("usage", exc.message, f"did you mean {' or '.join(sorted(possibilities))}?")
    hint = None if context is None else f"see '{context.command_path} --help'"
    if type(exc).__name__ == "NoArgsIsHelpError":  # its message is the whole help panel
        return Failure("usage", "missing command", hint)
    return Failure("usage", exc.format_message() or "usage error", hint)


def wants_json(argv: Sequence[str]) -> bool:
    """Whether the command asked for JSON: as parsed if it got that far, else as written."""
    parsed = json_requested.get()
    if parsed is not None:
        return parsed
    options = argv[: list(argv).index("--")] if "--" in argv else argv
    return JSON_FLAG in options

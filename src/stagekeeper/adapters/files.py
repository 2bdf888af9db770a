"""Reading the small TOML files stagekeeper is given (policies, sinks, settings), with
the one-line errors every entry point reports."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, BinaryIO

from stagekeeper.domain.errors import ValidationError

# A policy or a sinks file is a few kilobytes; reading more than this is a mistake
# (``--file /dev/zero``) that must end as an error, not fill the memory.
MAX_FILE_BYTES = 1024 * 1024


def read_toml(path: Path) -> dict[str, Any]:
    """A TOML file (``-`` for standard input) as a dict."""
    import tomllib  # only for the commands that read a file

    try:
        if str(path) == "-":
            data = _bounded(sys.stdin.buffer, path)
        else:
            with path.open("rb") as file:
                data = _bounded(file, path)
        text = data.decode("utf-8")
    except OSError as exc:
        raise ValidationError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ValidationError(f"{path} is not UTF-8 text") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValidationError(f"{path} is not valid TOML: {exc}") from None


def _bounded(file: BinaryIO, path: Path) -> bytes:
    data = file.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        limit = MAX_FILE_BYTES // 1024
        raise ValidationError(f"{path} is larger than {limit} KiB: expected a small TOML file")
    return data

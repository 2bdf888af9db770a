"""Reading the files a command is given, with the CLI's one-line errors."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from stagekeeper.domain.errors import ValidationError


def read_toml(path: Path) -> dict[str, Any]:
    """A TOML file (``-`` for standard input) as a dict."""
    import tomllib  # only for the commands that read a file

    try:
        text = sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValidationError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ValidationError(f"{path} is not UTF-8 text") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValidationError(f"{path} is not valid TOML: {exc}") from None

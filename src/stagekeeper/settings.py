"""Settings: each from a flag, else the environment, else a file, else its default.

A team keeps its store and defaults in the repository: ``stagekeeper.toml``, or the
``[tool.stagekeeper]`` table of ``pyproject.toml``, in the working directory or the nearest
directory above it that has one (in each directory ``stagekeeper.toml`` is looked for first).

    [tool.stagekeeper]
    store = "postgresql+psycopg://ana@db.internal/models"
    actor = "ci-bot"
    model_name_template = "{timeframe}_trading_model"
    lock_timeout = 30

``resolved(name, flag)`` says which value wins and where it came from; ``stagekeeper
config`` prints every setting so. A file that cannot be read, or names a setting that does
not exist, is an error that names the file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from stagekeeper.domain import redaction
from stagekeeper.domain.errors import ValidationError
from stagekeeper.plugins import DEFAULT_STORE

FILE_NAME = "stagekeeper.toml"
PYPROJECT = "pyproject.toml"
# Each setting: its environment variable and its default (``None``: the composition root's,
# ``stagekeeper.bootstrap.DEFAULTS``, which this module is read too early to import).
SETTINGS: dict[str, tuple[str, str | None]] = {
    "store": ("STAGEKEEPER_STORE", DEFAULT_STORE),
    "actor": ("STAGEKEEPER_ACTOR", None),
    "model_name_template": ("STAGEKEEPER_MODEL_NAME_TEMPLATE", None),
    "lock_timeout": ("STAGEKEEPER_LOCK_TIMEOUT", None),
}


@dataclass(frozen=True)
class Setting:
    name: str
    value: str | None
    source: str  # "flag", the variable's name, the file's path, or "default"


@dataclass(frozen=True)
class SettingsFile:
    path: Path
    values: dict[str, str]

    @property
    def source(self) -> str:
        return f"{self.path} [tool.stagekeeper]" if self.path.name == PYPROJECT else str(self.path)


def resolved(name: str, flag: str | None = None) -> Setting:
    """Setting ``name``: ``flag`` if given, else its variable, else the file's, else the
    default."""
    variable, default = SETTINGS[name]
    if flag:
        return Setting(name, flag, "flag")
    if os.environ.get(variable):
        return Setting(name, os.environ[variable], variable)
    found = settings_file()
    if found is not None and name in found.values:
        if name == "store":  # its password is masked in output as the environment's is
            redaction.learn(found.values[name])
        return Setting(name, found.values[name], found.source)
    return Setting(name, default, "default")


def settings_file() -> SettingsFile | None:
    """The nearest settings file at or above the working directory."""
    start = Path.cwd()
    for directory in (start, *start.parents):
        for candidate in (directory / FILE_NAME, directory / PYPROJECT):
            try:
                stamp = candidate.stat().st_mtime_ns
            except OSError:
                continue
            found = _settings_in(candidate, stamp)
            if found is not None:
                return found
    return None


@lru_cache(maxsize=8)
def _settings_in(path: Path, _stamp: int) -> SettingsFile | None:
    """The settings ``path`` holds, read once while it is unchanged (``_stamp``)."""
    if path.name == FILE_NAME:
        return SettingsFile(path, _checked(path, _read(path)))
    table = _read(path).get("tool", {}).get("stagekeeper")
    return None if table is None else SettingsFile(path, _checked(path, table))


def _read(path: Path) -> dict[str, Any]:
    from stagekeeper.adapters.files import read_toml

    return read_toml(path)


def _checked(path: Path, table: object) -> dict[str, str]:
    if not isinstance(table, dict):
        raise ValidationError(f"{path}: the stagekeeper settings must be a table")
    unknown = sorted(set(table) - set(SETTINGS))
    if unknown:
        raise ValidationError(
            f"{path}: unknown setting {unknown[0]!r}: expected {', '.join(SETTINGS)}"
        )
    values = {}
    for name, value in table.items():
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise ValidationError(f"{path}: setting {name!r} must be a string or a number")
        values[name] = str(value)
    return values

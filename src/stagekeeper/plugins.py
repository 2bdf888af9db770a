"""Finding plugins through entry points: store backends by URL scheme
(``stagekeeper.backends``) and CLI command groups by name (``stagekeeper.commands``).

Only the entry point asked for is loaded, so asking for ``memory://`` never imports
SQLAlchemy or MLflow. A plugin that fails to load gives a warning and, for a store, an error
naming the schemes that are installed, never a crash.
"""

from __future__ import annotations

import warnings
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from stagekeeper.domain.errors import StagekeeperError, StoreUnreachable, UnsupportedStore
from stagekeeper.domain.redaction import redact_url
from stagekeeper.service.ports import ModelStore, StoreFactory, StoreOptions

GROUP = "stagekeeper.backends"
COMMANDS_GROUP = "stagekeeper.commands"
DEFAULT_STORE = "sqlite:///stagekeeper.db"


def normalized(url: str) -> str:
    """The URL with its scheme in lower case (``SQLITE:///x.db`` works like ``sqlite:///``)."""
    scheme, separator, rest = url.partition("://")
    if not separator or not scheme:
        raise UnsupportedStore(
            f"store URL {redact_url(url)!r} has no scheme: expected e.g. {DEFAULT_STORE}"
        )
    return f"{scheme.lower()}://{rest}"


def scheme_of(url: str) -> str:
    return normalized(url).partition("://")[0]


def installed_schemes() -> list[str]:
    return sorted({entry.name for entry in entry_points(group=GROUP)})


def open_store(url: str, options: StoreOptions | None = None) -> ModelStore:
    """Open the store that ``url`` names, with the backend its scheme selects."""
    url = normalized(url)
    factory = _factory(scheme_of(url), url)
    try:
        return factory(url, options or StoreOptions())
    except StagekeeperError:
        raise
    except Exception as exc:  # a backend's own failure must still read as one line
        raise StoreUnreachable(f"cannot open store {redact_url(url)}: {exc}") from exc


def _factory(scheme: str, url: str) -> StoreFactory:
    matches: list[EntryPoint] = list(entry_points(group=GROUP, name=scheme))
    for entry in matches:
        try:
            loaded: StoreFactory = entry.load()
        except Exception as exc:  # a broken plugin must not take the tool down
            warnings.warn(f"store backend {entry.value!r} failed to load: {exc}", stacklevel=3)
            continue
        return loaded
    schemes = ", ".join(installed_schemes()) or "none"
    raise UnsupportedStore(
        f"no installed backend handles {redact_url(url)!r} (scheme {scheme!r}); "
        f"installed schemes: {schemes}",
        hint="install stagekeeper-sql for sqlite:// and postgresql://, stagekeeper-mlflow for mlflow://",
    )


def command_names() -> list[str]:
    """The names of the command groups that installed plugins add to the CLI."""
    return sorted({entry.name for entry in entry_points(group=COMMANDS_GROUP)})


def command_group(name: str) -> Any | None:
    """The plugin command group (a ``typer.Typer``) called ``name``, or ``None``."""
    for entry in entry_points(group=COMMANDS_GROUP, name=name):
        try:
            return entry.load()
        except Exception as exc:  # a broken plugin must not take the tool down
            warnings.warn(f"command plugin {entry.value!r} failed to load: {exc}", stacklevel=2)
    return None

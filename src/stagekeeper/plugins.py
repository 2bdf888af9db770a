"""Finding plugins through entry points: store backends by URL scheme
(``stagekeeper.backends``) and CLI command groups by name (``stagekeeper.commands``).

Only the entry point asked for is loaded, so asking for ``memory://`` never imports
SQLAlchemy or MLflow. The first-party backends are known by name (``FIRST_PARTY``): reading
every installed package's entry points costs a command about 30 ms, so that scan is made
only for a scheme or a command that is not first-party (a third-party plugin), or when a
first-party package is not installed; ``--help``, which lists every command group, reads
the groups' names from a cache that installing or removing a package invalidates. A
plugin that fails to load gives a warning and, for a store, an error naming the schemes
that are installed, never a crash.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stagekeeper.domain.errors import StagekeeperError, StoreUnreachable, UnsupportedStore
from stagekeeper.domain.redaction import redact_url

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

    from stagekeeper.service.ports import ModelStore, StoreFactory, StoreOptions

GROUP = "stagekeeper.backends"
COMMANDS_GROUP = "stagekeeper.commands"
DEFAULT_STORE = "sqlite:///stagekeeper.db"

# The entry points that stagekeeper's own packages declare (pyproject.toml of each; a test
# checks that the two agree).
FIRST_PARTY = {
    GROUP: {
        "memory": "stagekeeper.adapters.memory:open_store",
        "sqlite": "stagekeeper_sql:open_store",
        "postgresql": "stagekeeper_sql:open_store",
        "postgresql+psycopg": "stagekeeper_sql:open_store",
        "mlflow": "stagekeeper_mlflow:open_store",
        "mlflow+http": "stagekeeper_mlflow:open_store",
        "mlflow+https": "stagekeeper_mlflow:open_store",
        "mlflow+sqlite": "stagekeeper_mlflow:open_store",
    },
    COMMANDS_GROUP: {"mlflow": "stagekeeper_mlflow.cli:app"},
}


def entry_points(group: str, name: str | None = None) -> list[EntryPoint]:
    """Installed entry points of ``group`` (named ``name``): a scan of every package."""
    from importlib.metadata import entry_points as scan

    found = scan(group=group) if name is None else scan(group=group, name=name)
    return list(found)


def _load(group: str, name: str) -> Any | None:
    """A first-party entry point's object, or ``None`` if it is not first-party or its
    package is not installed."""
    target = FIRST_PARTY[group].get(name)
    if target is None:
        return None
    module, _, attribute = target.partition(":")
    try:
        return getattr(importlib.import_module(module), attribute)
    except ModuleNotFoundError as exc:
        if exc.name != module.split(".")[0]:
            raise  # the package is there but broken: let the caller warn
        return None


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
    from stagekeeper.service.ports import StoreOptions

    url = normalized(url)
    factory = _factory(scheme_of(url), url)
    try:
        return factory(url, options or StoreOptions())
    except StagekeeperError:
        raise
    except Exception as exc:  # a backend's own failure must still read as one line
        raise StoreUnreachable(f"cannot open store {redact_url(url)}: {exc}") from exc


def _factory(scheme: str, url: str) -> StoreFactory:
    try:
        known: StoreFactory | None = _load(GROUP, scheme)
    except Exception as exc:  # a broken plugin must not take the tool down
        warnings.warn(f"store backend for {scheme!r} failed to load: {exc}", stacklevel=3)
        known = None
    if known is not None:
        return known
    for entry in entry_points(group=GROUP, name=scheme):
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
        hint="install stagekeeper-sql for sqlite:// and postgresql://, stagekeeper-mlflow for "
        "mlflow:// (from a checkout: pip install -e backends/sql, -e backends/mlflow)",
    )


def command_names() -> list[str]:
    """The names of the command groups that installed plugins add to the CLI (for
    ``--help``), from a cache that any install or uninstall invalidates."""
    key = _installation_key()
    cache = _cache_file()
    try:
        cached = json.loads(cache.read_text())
        if cached["key"] == key:
            return list(cached["names"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    names = sorted({entry.name for entry in entry_points(group=COMMANDS_GROUP)})
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps({"key": key, "names": names}))
    except OSError:
        pass  # a read-only home: scan every time
    return names


def _installation_key() -> list[list[object]]:
    """What changes when a package is installed or removed: each import path's mtime (a
    package's metadata directory is created or deleted in it). The working directory is
    left out: every file a command creates there (a SQLite database) would move it."""
    key: list[list[object]] = []
    here = os.getcwd()
    for entry in sys.path:
        if not entry or os.path.abspath(entry) == here:
            continue
        try:
            key.append([entry, os.stat(entry).st_mtime_ns])
        except OSError:
            continue
    return key


def _cache_file() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "stagekeeper" / "command-plugins.json"


def command_group(name: str) -> Any | None:
    """The plugin command group (a ``typer.Typer``) called ``name``, or ``None``."""
    try:
        known = _load(COMMANDS_GROUP, name)
    except Exception as exc:  # a broken plugin must not take the tool down
        warnings.warn(f"command plugin {name!r} failed to load: {exc}", stacklevel=2)
        return None
    if known is not None:
        return known
    for entry in entry_points(group=COMMANDS_GROUP, name=name):
        try:
            return entry.load()
        except Exception as exc:  # a broken plugin must not take the tool down
            warnings.warn(f"command plugin {entry.value!r} failed to load: {exc}", stacklevel=2)
    return None

"""Opening a store from its URL, by scheme, through the ``stagekeeper.backends`` group.

Only the entry point that the URL's scheme names is loaded, so asking for ``memory://``
never imports SQLAlchemy or MLflow. A plugin that fails to load gives a warning and an
error naming the schemes that are installed, never a crash.
"""

from __future__ import annotations

import warnings
from importlib.metadata import EntryPoint, entry_points

from stagekeeper.errors import BackendError, StagekeeperError
from stagekeeper.ports import ModelStore, StoreFactory, StoreOptions

GROUP = "stagekeeper.backends"
DEFAULT_STORE = "sqlite:///stagekeeper.db"


def scheme_of(url: str) -> str:
    scheme, separator, _ = url.partition("://")
    if not separator or not scheme:
        raise BackendError(
            f"store URL {redact(url)!r} has no scheme: expected e.g. {DEFAULT_STORE}"
        )
    return scheme.lower()


def installed_schemes() -> list[str]:
    return sorted({entry.name for entry in entry_points(group=GROUP)})


def open_store(url: str, options: StoreOptions | None = None) -> ModelStore:
    """Open the store that ``url`` names, with the backend its scheme selects."""
    factory = _factory(scheme_of(url), url)
    try:
        return factory(url, options or StoreOptions())
    except StagekeeperError:
        raise
    except Exception as exc:  # a backend's own failure must still read as one line
        raise BackendError(f"cannot open store {redact(url)}: {exc}") from exc


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
    raise BackendError(
        f"no installed backend handles {redact(url)!r} (scheme {scheme!r}); "
        f"installed schemes: {schemes}",
        hint="install stagekeeper-sql for sqlite:// and postgresql://, stagekeeper-mlflow for mlflow://",
    )


def redact(url: str) -> str:
    """The URL with any password replaced, safe to print."""
    scheme, separator, rest = url.partition("://")
    authority, slash, path = rest.partition("/")
    credentials, at, host = authority.rpartition("@")
    if not (separator and at) or ":" not in credentials:
        return url
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}{slash}{path}"

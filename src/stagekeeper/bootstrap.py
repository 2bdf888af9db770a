"""The composition root: ``open_registry(url)`` turns a URL and options into a ``Registry``.

It reads the settings (``stagekeeper.settings``: the environment's ``STAGEKEEPER_STORE``,
``STAGEKEEPER_ACTOR``, ``STAGEKEEPER_MODEL_NAME_TEMPLATE``, else a settings file) so the
service never has to, finds the store's backend
(``stagekeeper.plugins``) and wires the publishing seam.
"""

from __future__ import annotations

import getpass

from stagekeeper import settings
from stagekeeper.domain import validation
from stagekeeper.domain.operation import utc_now
from stagekeeper.plugins import DEFAULT_STORE, open_store
from stagekeeper.service.ports import DEFAULT_MODEL_NAME_TEMPLATE, StoreOptions
from stagekeeper.service.publishing import Publish, publish_nothing
from stagekeeper.service.registry import Registry
from stagekeeper.service.writing import Clock

DEFAULT_LOCK_TIMEOUT = 30.0


def defaults() -> dict[str, str]:
    """Each setting's value when nothing names it (``stagekeeper config`` shows them)."""
    return {
        "store": DEFAULT_STORE,
        "actor": default_actor(),
        "model_name_template": DEFAULT_MODEL_NAME_TEMPLATE,
        "lock_timeout": f"{DEFAULT_LOCK_TIMEOUT:g}",
    }


def default_store_url() -> str:
    """``STAGEKEEPER_STORE``, else the settings file's, else the embedded SQLite file in
    this directory."""
    return settings.resolved("store").value or DEFAULT_STORE


def default_actor() -> str:
    """``STAGEKEEPER_ACTOR``, else the settings file's, else the operating system's user."""
    explicit = settings.resolved("actor").value
    if explicit:
        return explicit
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry, e.g. in a bare container
        return "unknown"


def open_registry(
    url: str | None = None,
    *,
    actor: str | None = None,
    model_name_template: str | None = None,
    clock: Clock = utc_now,
    check_schema: bool = True,
    create: bool = True,
    publish: Publish = publish_nothing,
    lock_timeout: float | None = None,
) -> Registry:
    """Open the registry at ``url`` (``memory://``, ``sqlite:///…``, ``postgresql+psycopg://…``).

    ``url=None`` means ``STAGEKEEPER_STORE``, else ``sqlite:///stagekeeper.db``. Changes
    are recorded as made by ``actor`` unless a call names another. Model names come from
    ``model_name_template``, else ``STAGEKEEPER_MODEL_NAME_TEMPLATE``, else
    ``{timeframe}_trading_model``. Close the registry, or use it as a context manager, to
    release the store's connections. With ``create=False`` a store that does not exist yet
    is refused (``StoreUnreachable``) instead of created. ``publish`` receives every
    committed operation, once. A writer waits for its timeframe's write lock for
    ``lock_timeout`` seconds (else ``STAGEKEEPER_LOCK_TIMEOUT``, else 30), then raises
    ``LockTimeout``.
    """
    template = (
        settings.resolved("model_name_template", model_name_template).value
        or DEFAULT_MODEL_NAME_TEMPLATE
    )
    options = StoreOptions(
        model_name_template=validation.model_name_template(template),
        check_schema=check_schema,
        create=create,
        lock_timeout=validation.lock_timeout(
            lock_timeout
            if lock_timeout is not None
            else settings.resolved("lock_timeout").value or DEFAULT_LOCK_TIMEOUT
        ),
    )
    who = validation.actor(actor or default_actor())
    store = open_store(url or default_store_url(), options)
    return Registry(store, options=options, actor=who, clock=clock, publish=publish)

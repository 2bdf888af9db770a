"""``stagekeeper config``: the settings in effect and where each came from."""

from __future__ import annotations

from typing import TYPE_CHECKING

from stagekeeper.cli import options, tables
from stagekeeper.cli.session import command_session

if TYPE_CHECKING:
    from stagekeeper.settings import Setting


def config(
    store: options.Store = None,
    actor: options.Actor = None,
    json_output: options.Json = False,
) -> None:
    """Show the settings in effect and where each came from.

    A flag, else the environment, else the nearest settings file (stagekeeper.toml, or
    \\[tool.stagekeeper] in pyproject.toml), else the default. Secrets are masked; the store
    is not opened."""
    from stagekeeper import settings

    store_before, actor_before = options.given_before_command.get()
    flags = {"store": store or store_before, "actor": actor or actor_before}
    found = [settings.resolved(name, flags.get(name)) for name in settings.SETTINGS]
    rows = [(s.name, _value(s), s.source) for s in found]
    kept = settings.settings_file()
    with command_session(json_output) as session:
        session.emit(
            {
                "file": None if kept is None else str(kept.path),
                "settings": [{"name": n, "value": v, "source": s} for n, v, s in rows],
            },
            lambda console: tables.show(
                console,
                tables.filled(
                    ("setting", "value", "from"),
                    [(n, v, _source(s, n)) for n, v, s in rows],
                    text=("value", "from"),
                ),
            ),
        )


def _value(setting: Setting) -> str:
    """The value as it may be shown: the default's if none is set, a store URL's secrets
    masked."""
    from stagekeeper.bootstrap import defaults
    from stagekeeper.domain.redaction import redact_url

    value = setting.value or defaults()[setting.name]
    return redact_url(value) if setting.name == "store" else value


def _source(source: str, name: str) -> str:
    if source == "flag":
        return f"--{name.replace('_', '-')}"
    if source == "default" and name == "actor":
        return "default (the OS user)"
    return source

"""The root command group: its commands loaded by name, and every run through the funnel.

This is the one module that builds on Click's interface below Typer's: ``FunneledGroup``
overrides four methods of ``typer.core.TyperGroup`` (``list_commands``, ``get_command``,
``format_help`` and ``main``). Loading a command's module only when it runs keeps start-up
fast (doing it for all of them cost ``--help`` and every command about 12 ms), and running
the parser with its error display switched off sends usage errors to the funnel like every
other failure. ``tests/unit/test_cli_group.py`` fails when Typer changes these methods under
it, so an upgrade of Typer is checked here and nowhere else.
"""

from __future__ import annotations

import importlib
import inspect
import sys
from collections.abc import Sequence
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup

from stagekeeper import plugins
from stagekeeper.cli import funnel

# The methods of TyperGroup this module overrides (checked by the tests).
OVERRIDDEN = ("list_commands", "get_command", "format_help", "main")

# Each core command's module (in stagekeeper.cli.commands) and object, in the order --help
# lists them. A command's module is imported, and its signature turned into Click's
# parameters, only when that command runs: doing it for all of them cost --help and every
# command about 12 ms. --help itself reads only the names and the docstrings.
COMMANDS = {
    "register": "register:register",
    "promote": "promote:promote",
    "list": "list_versions:list_versions",
    "show": "show:show",
    "history": "history:history",
    "rollback": "rollback:rollback",
    "status": "status:status",
    "champion": "champion:champion",
    "lifecycle": "lifecycle:lifecycle",
    "doctor": "doctor:doctor",
    "metrics": "metrics:metrics",
    "check": "check:check",
    "policy": "policy:policy_app",
    "requests": "approvals:requests",
    "approve": "approvals:approve",
    "reject": "approvals:reject",
    "events": "events:events_app",
    "timeline": "timeline:timeline",
    "db": "db:db_app",
    "tokens": "tokens:tokens_app",
    "serve": "serve:serve",
    "config": "config:config",
}


def _core_command(name: str) -> Any | None:
    """The function or ``typer.Typer`` behind core command ``name``, or ``None``."""
    target = COMMANDS.get(name)
    if target is None:
        return None
    module, _, attribute = target.partition(":")
    return getattr(importlib.import_module(f"stagekeeper.cli.commands.{module}"), attribute)


def _click_command(name: str, found: Any) -> Any:
    """Click's command for a command function or a ``typer.Typer`` group."""
    command: Any
    if isinstance(found, typer.Typer):
        command = typer.main.get_group(found)
    else:
        single = typer.Typer(add_completion=False)
        single.command(name)(found)
        command = typer.main.get_command(single)
    command.name = name
    return command


def _listing_entry(name: str, found: Any) -> TyperCommand:
    """What --help's list of commands shows of a command: its name and its docstring."""
    summary = found.info.help if isinstance(found, typer.Typer) else inspect.getdoc(found)
    return TyperCommand(name=name, help=summary if isinstance(summary, str) else None)


class FunneledGroup(TyperGroup):
    """The root command: parses and runs with the parser's own error display switched off,
    so that usage errors reach the funnel like every other failure. Its commands are loaded
    by name (``COMMANDS``); backends add command groups through the ``stagekeeper.commands``
    entry point, looked up only when a name is not one of the core commands."""

    _listing = False

    def list_commands(self, ctx: Any) -> list[str]:  # noqa: ARG002 (Click's signature)
        return [*COMMANDS, *plugins.command_names()]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:  # noqa: ARG002 (Click's signature)
        found = _core_command(cmd_name)
        if found is None:
            found = plugins.command_group(cmd_name)
        if found is None:
            return None
        if self._listing:
            return _listing_entry(cmd_name, found)
        return _click_command(cmd_name, found)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        argv = list(sys.argv[1:] if args is None else args)
        code = funnel.guarded(
            argv,
            lambda: super(FunneledGroup, self).main(
                args=argv,
                prog_name=prog_name or "stagekeeper",
                complete_var=complete_var,
                standalone_mode=False,
                windows_expand_args=windows_expand_args,
                **extra,
            ),
        )
        if standalone_mode:
            sys.exit(code)
        return code

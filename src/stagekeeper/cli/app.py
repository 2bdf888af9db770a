"""The Typer application: every command registered in one place, every run through the funnel."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from stagekeeper import plugins
from stagekeeper.cli import funnel, options
from stagekeeper.cli.commands.approvals import approve, reject, requests
from stagekeeper.cli.commands.check import check
from stagekeeper.cli.commands.db import db_app
from stagekeeper.cli.commands.doctor import doctor
from stagekeeper.cli.commands.events import events_app
from stagekeeper.cli.commands.history import history
from stagekeeper.cli.commands.lifecycle import lifecycle
from stagekeeper.cli.commands.list_versions import list_versions
from stagekeeper.cli.commands.metrics import metrics
from stagekeeper.cli.commands.policy import policy_app
from stagekeeper.cli.commands.promote import promote
from stagekeeper.cli.commands.register import register
from stagekeeper.cli.commands.rollback import rollback
from stagekeeper.cli.commands.status import status
from stagekeeper.cli.commands.timeline import timeline


class FunneledGroup(TyperGroup):
    """The root command: parses and runs with the parser's own error display switched off,
    so that usage errors reach the funnel like every other failure. Backends add command
    groups through the ``stagekeeper.commands`` entry point, looked up only when a name is
    not one of the core commands."""

    def list_commands(self, ctx: Any) -> list[str]:
        return [*super().list_commands(ctx), *plugins.command_names()]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        found = super().get_command(ctx, cmd_name)
        if found is None and cmd_name not in self.commands:
            group = plugins.command_group(cmd_name)
            if group is not None:
                command = typer.main.get_command(group)
                command.name = cmd_name
                return command
        return found

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
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
                **extra,
            ),
        )
        if standalone_mode:
            sys.exit(code)
        return code


def _show_version(wanted: bool) -> None:
    if wanted:
        from importlib.metadata import version

        sys.stdout.write(f"stagekeeper {version('stagekeeper')}\n")
        raise typer.Exit()


app = typer.Typer(
    name="stagekeeper",
    cls=FunneledGroup,
    help="Move model versions safely: development -> beta -> champion -> archived.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def root(
    _version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_show_version,
            is_eager=True,
            metavar="",
            help="Show stagekeeper's version and exit.",
        ),
    ] = False,
    json_output: options.Json = False,
) -> None:
    """Move model versions safely: development -> beta -> champion -> archived.

    --json may stand before the command too: stagekeeper --json status.
    """
    if json_output:
        funnel.json_requested.set(True)


app.command("register")(register)
app.command("promote")(promote)
app.command("list")(list_versions)
app.command("history")(history)
app.command("rollback")(rollback)
app.command("status")(status)
app.command("lifecycle")(lifecycle)
app.command("doctor")(doctor)
app.command("metrics")(metrics)
app.command("check")(check)
app.add_typer(policy_app, name="policy")
app.command("requests")(requests)
app.command("approve")(approve)
app.command("reject")(reject)
app.add_typer(events_app, name="events")
app.command("timeline")(timeline)
app.add_typer(db_app, name="db")


def main() -> None:
    app()

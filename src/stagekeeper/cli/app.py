"""The Typer application: every command named in one table, every run through the funnel."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from stagekeeper.cli import funnel, options
from stagekeeper.cli.group import FunneledGroup


def _show_version(wanted: bool) -> None:
    if wanted:
        import json
        from importlib.metadata import version

        number = version("stagekeeper")
        if funnel.wants_json(funnel.arguments.get()):
            sys.stdout.write(json.dumps({"data": {"version": number}}, indent=2) + "\n")
        else:
            sys.stdout.write(f"stagekeeper {number}\n")
        raise typer.Exit()


app = typer.Typer(
    name="stagekeeper",
    cls=FunneledGroup,
    help="Move model versions safely: development -> beta -> champion -> archived.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    # -h works as --help does, on every command (sub-commands inherit it).
    context_settings={"help_option_names": ["-h", "--help"]},
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
    store: options.Store = None,
    actor: options.Actor = None,
    no_pager: options.NoPager = False,
) -> None:
    """Move model versions safely: development -> beta -> champion -> archived.

    --json, --store, --actor and --no-pager may stand before the command too:
    stagekeeper --json --store sqlite:///models.db status.
    """
    if json_output:
        funnel.json_requested.set(True)
    if no_pager:
        options.no_pager.set(True)
    options.given_before_command.set((store, actor))


def main() -> None:
    app()

"""The Typer application: every command registered in one place."""

from __future__ import annotations

import typer

from stagekeeper.cli.commands.db import db_app
from stagekeeper.cli.commands.doctor import doctor
from stagekeeper.cli.commands.history import history
from stagekeeper.cli.commands.lifecycle import lifecycle
from stagekeeper.cli.commands.list_versions import list_versions
from stagekeeper.cli.commands.mlflow import mlflow_app
from stagekeeper.cli.commands.promote import promote
from stagekeeper.cli.commands.register import register
from stagekeeper.cli.commands.rollback import rollback
from stagekeeper.cli.commands.status import status

app = typer.Typer(
    name="stagekeeper",
    help="Move model versions safely: development -> beta -> champion -> archived.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command("register")(register)
app.command("promote")(promote)
app.command("list")(list_versions)
app.command("history")(history)
app.command("rollback")(rollback)
app.command("status")(status)
app.command("lifecycle")(lifecycle)
app.command("doctor")(doctor)
app.add_typer(db_app, name="db")
app.add_typer(mlflow_app, name="mlflow")


def main() -> None:
    app()

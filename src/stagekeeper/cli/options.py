"""Options shared by the commands, declared once so every command spells them alike.

Values arrive as text and are checked by ``stagekeeper.domain.validation`` and ``Stage.parse``,
the same checks the Python API makes, so that the CLI and the library accept and refuse
exactly the same values with the same words.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextvars import ContextVar
from typing import Annotated, Any

import typer

from stagekeeper.cli import completion
from stagekeeper.domain.errors import ValidationError
from stagekeeper.domain.stages import Stage

STAGES = "|".join(stage.value for stage in Stage)
# --store and --actor as given before the command (``stagekeeper --store URL status``);
# the command's own, after its name, win.
given_before_command: ContextVar[tuple[str | None, str | None]] = ContextVar(
    "given_before_command", default=(None, None)
)
# ``--no-pager`` given before the command (``stagekeeper --no-pager history``).
no_pager: ContextVar[bool] = ContextVar("no_pager", default=False)


def command_group(name: str, help_text: str) -> typer.Typer:
    """A group of sub-commands (``policy``, ``db``) that names them when none is given.

    Not Typer's ``no_args_is_help``: building that error renders the help panel onto
    stdout, before the one-line error and the JSON document that must stand there alone.
    """
    group = typer.Typer(name=name, help=help_text, invoke_without_command=True)

    @group.callback()
    def needs_a_command(ctx: typer.Context) -> None:
        if ctx.invoked_subcommand is None:
            names = ", ".join(ctx.command.list_commands(ctx))  # type: ignore[attr-defined]
            raise ValidationError(
                f"missing command: expected one of {names}",
                hint=f"see '{ctx.command_path} --help'",
            )

    return group


def choice(value: str, allowed: Sequence[str], what: str = "format") -> str:
    """``value`` (any case) if it is one of ``allowed``; else an error naming them."""
    found = value.strip().lower()
    if found not in allowed:
        raise ValidationError(
            f"unknown {what} {value[:40]!r}: expected one of {', '.join(allowed)}"
        )
    return found


def completed(name: str, metavar: str, help_text: str, complete: Callable[..., Any]) -> Any:
    """An option that takes a value the shell completes (``stagekeeper.cli.completion``)."""
    return typer.Option(
        name, metavar=metavar, help=help_text, show_default=False, autocompletion=complete
    )


def flag(name: str, help_text: str) -> Any:
    """An on/off option, shown without a value in ``--help`` (it takes none)."""
    return typer.Option(name, metavar="", help=help_text)


Store = Annotated[
    str | None,
    typer.Option(
        "--store",
        metavar="URL",
        help="Store URL: sqlite:///file.db, postgresql+psycopg://user@host/db, "
        "mlflow+http://host:5000, mlflow+sqlite:///mlflow.db, mlflow:// or memory://. "
        "Default: $STAGEKEEPER_STORE, else sqlite:///stagekeeper.db.",
        show_default=False,
    ),
]
Actor = Annotated[
    str | None,
    typer.Option(
        "--actor",
        metavar="NAME",
        help="Who runs the command, recorded with every change it makes. "
        "Default: $STAGEKEEPER_ACTOR, else the OS user name.",
        show_default=False,
    ),
]
Json = Annotated[bool, flag("--json", 'Print one JSON document: {"data": ...} or {"error": ...}.')]
NoPager = Annotated[
    bool, flag("--no-pager", "Write straight to the terminal, not through $PAGER (less).")
]
Timeframe = Annotated[
    str,
    completed("--timeframe", "TF", "Timeframe, e.g. 1H, 4H or 1D.", completion.timeframes),
]
OptionalTimeframe = Annotated[
    str | None,
    completed("--timeframe", "TF", "Only this timeframe, e.g. 1H.", completion.timeframes),
]
Version = Annotated[
    str,
    completed("--model-version", "N", "Model version number.", completion.versions),
]
NewVersion = Annotated[
    str | None,
    typer.Option(
        "--model-version",
        metavar="N",
        help="Version number to register. Default: the timeframe's next number.",
        show_default=False,
    ),
]
OptionalVersion = Annotated[
    str | None,
    completed("--model-version", "N", "Only this model version.", completion.versions),
]
TargetStage = Annotated[
    str,
    completed(
        "--target-stage", STAGES, "Stage to move the version to (any case).", completion.stages
    ),
]
OptionalStage = Annotated[
    str | None,
    completed("--stage", STAGES, "Only versions in this stage (any case).", completion.stages),
]
Reason = Annotated[
    str | None,
    typer.Option(
        "--reason",
        metavar="TEXT",
        help="Why (at most 2,000 characters); kept in the history.",
        show_default=False,
    ),
]
Metrics = Annotated[
    list[str] | None,
    typer.Option(
        "--metric",
        metavar="NAME=VALUE",
        help="A metric of the version, e.g. sharpe=1.42; repeat for more.",
        show_default=False,
    ),
]

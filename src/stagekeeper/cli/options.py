"""Options shared by the commands, declared once so every command spells them alike."""

from __future__ import annotations

from typing import Annotated

import typer

from stagekeeper.stages import Stage

Store = Annotated[
    str | None,
    typer.Option(
        "--store",
        help="Store URL (sqlite:///file.db, postgresql+psycopg://..., memory://). "
        "Default: $STAGEKEEPER_STORE, else sqlite:///stagekeeper.db.",
        show_default=False,
    ),
]
Actor = Annotated[
    str | None,
    typer.Option(
        "--actor",
        help="Who makes the change. Default: $STAGEKEEPER_ACTOR, else the OS user name.",
        show_default=False,
    ),
]
Json = Annotated[
    bool,
    typer.Option("--json", help='Print one JSON document: {"data": ...} or {"error": ...}.'),
]
Timeframe = Annotated[
    str, typer.Option("--timeframe", help="Timeframe, e.g. 1H, 4H or 1D.", show_default=False)
]
OptionalTimeframe = Annotated[
    str | None,
    typer.Option("--timeframe", help="Only this timeframe, e.g. 1H.", show_default=False),
]
Version = Annotated[
    int, typer.Option("--model-version", help="Model version number.", show_default=False)
]
OptionalVersion = Annotated[
    int | None,
    typer.Option("--model-version", help="Only this model version.", show_default=False),
]
TargetStage = Annotated[
    Stage,
    typer.Option(
        "--target-stage",
        help="Stage to move the version to.",
        case_sensitive=False,
        show_default=False,
    ),
]
OptionalStage = Annotated[
    Stage | None,
    typer.Option("--stage", help="Only versions in this stage.", case_sensitive=False),
]
Reason = Annotated[
    str | None,
    typer.Option("--reason", help="Why (at most 2,000 characters); kept in the history."),
]

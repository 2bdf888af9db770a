"""Baseline for ``stagekeeper list --stage champion`` on SQLite: a minimal Typer app that
imports SQLAlchemy Core and runs one SELECT on the same file, printing the rows."""

from typing import Annotated

import typer
from sqlalchemy import create_engine, text

app = typer.Typer()


@app.command()
def champions(store: Annotated[str, typer.Option()]) -> None:
    """List the champions."""
    engine = create_engine(store)
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT timeframe, version FROM stagekeeper_versions WHERE stage = 'champion'")
        ).all()
    for timeframe, version in rows:
        typer.echo(f"{timeframe} {version}")


if __name__ == "__main__":
    app()

"""Baseline for ``stagekeeper list --stage champion`` on MLflow: a minimal Typer app that
imports MLflow and asks for the champion alias of one model, as stagekeeper must."""

from typing import Annotated

import typer
from mlflow.tracking import MlflowClient

app = typer.Typer()


@app.command()
def champion(uri: Annotated[str, typer.Option()], name: Annotated[str, typer.Option()]) -> None:
    """Show the champion."""
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    model = client.get_registered_model(name)
    typer.echo(f"{name} {model.aliases.get('champion')}")


if __name__ == "__main__":
    app()

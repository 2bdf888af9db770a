"""Baseline for ``stagekeeper list --stage champion`` on MLflow: a minimal Typer app that
imports MLflow and makes the same search call, printing each model's champion alias."""

from typing import Annotated

import typer
from mlflow.tracking import MlflowClient

app = typer.Typer()


@app.command()
def champions(uri: Annotated[str, typer.Option()]) -> None:
    """List the champions."""
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    for model in client.search_registered_models("name LIKE '%_trading_model'"):
        typer.echo(f"{model.name} {model.aliases.get('champion')}")


if __name__ == "__main__":
    app()

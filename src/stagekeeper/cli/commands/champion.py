"""``stagekeeper champion``: the champion of a timeframe, on one line, for deploy scripts."""

from __future__ import annotations

import sys

from stagekeeper.cli import options, render
from stagekeeper.cli.session import command_session
from stagekeeper.domain.errors import NotFoundError


def champion(
    timeframe: options.Timeframe,
    store: options.Store = None,
    actor: options.Actor = None,
    json_output: options.Json = False,
) -> None:
    """Print the champion's version and model on one line, for deploy scripts.

    The model is its source, or models:/NAME@champion on MLflow; exit 1 if there is none."""
    from stagekeeper.service.ports import SERVES_MODELS_URIS  # not for --help: 13 ms

    with command_session(json_output) as session:
        registry = session.open(store, actor, writes=False)
        found = registry.champion(timeframe)
        if found is None:
            raise NotFoundError(f"{timeframe} has no champion")
        served = SERVES_MODELS_URIS in registry.store.capabilities
        where = f"models:/{found.model_name}@champion" if served else (found.source or "")
        if session.json_output:
            session.emit({**render.version_data(found), "uri": where or None}, lambda _: None)
            return
        sys.stdout.write(f"{found.version} {where}".rstrip() + "\n")

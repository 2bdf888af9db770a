"""The MLflow model registry store for stagekeeper (``mlflow://``, ``mlflow+http://``,
``mlflow+sqlite:///``), found through the ``stagekeeper.backends`` entry point.

Importing this package does not import MLflow; ``open_store`` does, so only opening an
MLflow store pays for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from stagekeeper.service.ports import StoreOptions
    from stagekeeper_mlflow.store import MlflowStore


def open_store(url: str, options: StoreOptions) -> MlflowStore:
    """Entry point: open the MLflow registry that ``url`` names."""
    from stagekeeper_mlflow.store import MlflowStore

    return MlflowStore(url, options)


__all__ = ["open_store"]

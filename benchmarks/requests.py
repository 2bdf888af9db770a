"""Counting the HTTP requests MLflow's client sends."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def counting_requests() -> Iterator[list[int]]:
    """Every HTTP request MLflow's REST client sends meanwhile, counted in ``count[0]``."""
    import mlflow.utils.rest_utils as rest_utils

    count = [0]
    real = rest_utils.http_request

    def counted(*args: Any, **kwargs: Any) -> Any:
        count[0] += 1
        return real(*args, **kwargs)

    rest_utils.http_request = counted
    try:
        yield count
    finally:
        rest_utils.http_request = real

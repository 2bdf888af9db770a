"""Counting the HTTP requests MLflow's client sends."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Requests:
    """The requests sent: their endpoints and what they carried (query or body)."""

    sent: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.sent)

    def naming(self, text: str) -> int:
        """How many named ``text`` (a model, say) in their endpoint, query or body."""
        return sum(text in request for request in self.sent)


@contextmanager
def counting_requests() -> Iterator[Requests]:
    """Every HTTP request MLflow's REST client sends meanwhile."""
    import mlflow.utils.rest_utils as rest_utils

    counted = Requests()
    real = rest_utils.http_request

    def counting(*args: Any, **kwargs: Any) -> Any:
        carried = kwargs.get("params") or kwargs.get("json") or ""
        counted.sent.append(f"{kwargs.get('endpoint', '')} {carried}")
        return real(*args, **kwargs)

    rest_utils.http_request = counting
    try:
        yield counted
    finally:
        rest_utils.http_request = real

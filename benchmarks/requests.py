"""Counting the HTTP requests MLflow's client sends, and the round trips in sequence among
them (the critical path: requests sent at once count as one)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Requests:
    """The requests sent: their endpoints and what they carried (query or body), and when
    each was under way."""

    sent: list[str] = field(default_factory=list)
    spans: list[tuple[float, float]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.sent)

    @property
    def in_sequence(self) -> int:
        """Round trips one after another: a request that starts before every request under
        way has ended rides the same round trip."""
        rounds, ended = 0, float("-inf")
        for start, end in sorted(self.spans):
            if start >= ended:
                rounds += 1
                ended = end
            else:
                ended = max(ended, end)
        return rounds

    def naming(self, text: str) -> int:
        """How many named ``text`` (a model, say) in their endpoint, query or body."""
        return sum(text in request for request in self.sent)


@contextmanager
def counting_requests() -> Iterator[Requests]:
    """Every HTTP request sent meanwhile through ``requests`` (MLflow's client and
    stagekeeper's transport alike), from any thread: its path, and its query or body."""
    from urllib.parse import unquote_plus, urlsplit

    import requests

    counted = Requests()
    real = requests.Session.send

    def counting(session: requests.Session, request: Any, **kwargs: Any) -> Any:
        url = urlsplit(request.url)
        body = request.body.decode() if isinstance(request.body, bytes) else request.body or ""
        counted.sent.append(f"{url.path} {unquote_plus(url.query)}{body}")
        start = time.perf_counter()
        try:
            return real(session, request, **kwargs)
        finally:
            counted.spans.append((start, time.perf_counter()))

    requests.Session.send = counting  # type: ignore[method-assign,assignment]
    try:
        yield counted
    finally:
        requests.Session.send = real  # type: ignore[method-assign]

"""Event sinks: a webhook, a command, and third-party sinks from entry points.

Configured in a TOML file that the delivery worker reads (``stagekeeper events deliver
--config sinks.toml``): secrets stay in the worker's environment, never in the store that
every reader can see. Each sink retries a failed delivery a bounded number of times with
exponential backoff, then raises ``DeliveryError``. Imports the domain and the service.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import http.client
import json
import math
import os
import re
import socket
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any

from stagekeeper.domain.errors import ValidationError
from stagekeeper.domain.redaction import redact_url
from stagekeeper.service.delivery import DeliveryError, Sink

SIGNATURE_HEADER = "X-Stagekeeper-Signature"
PLUGIN_GROUP = "stagekeeper.sinks"
MAX_SINK_NAME = 64
SINK_NAME = re.compile(rf"[A-Za-z0-9._-]{{1,{MAX_SINK_NAME}}}")


class Retrying:
    """Bounded retries with exponential backoff, shared by the sinks."""

    def __init__(self, retries: int, backoff: float, sleep: Callable[[float], None]) -> None:
        self.retries, self.backoff, self.sleep = retries, backoff, sleep

    def run(self, attempt: Callable[[], str | None], what: str) -> None:
        """Call ``attempt`` until it returns ``None`` (success) or the retries run out; it
        returns the reason it failed otherwise."""
        reason = "not tried"
        for number in range(self.retries + 1):
            failed = attempt()
            if failed is None:
                return
            reason = failed
            if number < self.retries:
                self.sleep(min(self.backoff * 2**number, 30.0))
        raise DeliveryError(f"{what}: {reason} ({self.retries + 1} attempts)")


class WebhookSink:
    """HTTP POST of the event's JSON, signed with HMAC-SHA256 of the body when a secret is
    set: ``X-Stagekeeper-Signature: sha256=<hex>``.

    Only a 2xx answer delivers. A redirect is never followed: following it would re-send
    the signed event to another origin, and a 301 or 302 turns the POST into a bodiless GET
    whose 200 would mark the event delivered. ``timeout`` bounds the whole attempt, not
    each read, so a server that trickles its answer cannot hold the worker.
    """

    def __init__(
        self,
        url: str,
        *,
        secret: bytes | None = None,
        timeout: float = 10.0,
        retries: int = 3,
        backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.url, self.secret, self.timeout = url, secret, timeout
        self.retrying = Retrying(retries, backoff, sleep)

    def __call__(self, event: Mapping[str, Any]) -> None:
        body = json.dumps(event, separators=(",", ":"), sort_keys=True).encode("utf-8")
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "stagekeeper",
            "X-Stagekeeper-Event": str(event["type"]),
            "X-Stagekeeper-Delivery": str(event["id"]),
        }
        if self.secret is not None:
            headers[SIGNATURE_HEADER] = "sha256=" + sign(self.secret, body)
        self.retrying.run(lambda: self._post(body, headers), f"webhook {redact_url(self.url)}")

    def _post(self, body: bytes, headers: dict[str, str]) -> str | None:
        parts = urllib.parse.urlsplit(self.url)
        connection_class = (
            http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        )
        connection = connection_class(parts.netloc.rpartition("@")[2], timeout=self.timeout)
        expired = threading.Event()
        deadline = threading.Timer(self.timeout, _cut, (connection, expired))
        deadline.start()
        try:
            connection.request("POST", _target(parts), body, headers)
            response = connection.getresponse()
            status, location = response.status, response.getheader("Location")
        except (OSError, http.client.HTTPException) as exc:
            return (
                f"no answer within {self.timeout:g}s"
                if expired.is_set() or isinstance(exc, TimeoutError)
                else str(getattr(exc, "reason", exc) or type(exc).__name__)
            )
        finally:
            deadline.cancel()
            connection.close()
        if 200 <= status < 300:
            return None
        if 300 <= status < 400:
            return f"HTTP {status}, a redirect to {location or 'nowhere'}, not followed"
        return f"HTTP {status}"


def _target(parts: urllib.parse.SplitResult) -> str:
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def _cut(connection: http.client.HTTPConnection, expired: threading.Event) -> None:
    """End an attempt at its deadline: a blocked read then fails at once (and, told first,
    says why)."""
    expired.set()
    sock = connection.sock
    if sock is not None:
        with contextlib.suppress(OSError):  # already closed
            sock.shutdown(socket.SHUT_RDWR)


class CommandSink:
    """Runs a program with the event's JSON on stdin; exit 0 means delivered."""

    def __init__(
        self,
        command: list[str],
        *,
        timeout: float = 30.0,
        retries: int = 3,
        backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.command, self.timeout = command, timeout
        self.retrying = Retrying(retries, backoff, sleep)

    def __call__(self, event: Mapping[str, Any]) -> None:
        body = json.dumps(event, separators=(",", ":"), sort_keys=True)
        self.retrying.run(lambda: self._run(body), f"command {self.command[0]}")

    def _run(self, body: str) -> str | None:
        try:
            done = subprocess.run(
                self.command, input=body, capture_output=True, text=True, timeout=self.timeout
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return str(exc)
        if done.returncode == 0:
            return None
        last = (done.stderr.strip().splitlines() or [""])[-1]
        return f"exit {done.returncode}" + (f": {last}" if last else "")


def sign(secret: bytes, body: bytes) -> str:
    return hmac.new(secret, body, hashlib.sha256).hexdigest()


def sinks_from(config: Mapping[str, Any]) -> dict[str, Sink]:
    """The sinks a worker's configuration names, under ``[sinks.<name>]``."""
    sections = config.get("sinks")
    if not isinstance(sections, Mapping) or not sections:
        raise ValidationError("the delivery configuration names no sink: add [sinks.<name>]")
    return {_name(str(name)): _sink(str(name), section) for name, section in sections.items()}


def _name(name: str) -> str:
    """One rule on every store (PostgreSQL's column is the shortest, MLflow's tag keys the
    strictest), checked before any delivery, so no store posts an event and then fails to
    keep the sink's cursor."""
    if SINK_NAME.fullmatch(name):
        return name
    shown = name if len(name) <= MAX_SINK_NAME else name[:MAX_SINK_NAME] + "..."
    raise ValidationError(
        f"sink name {shown!r}: expected 1 to {MAX_SINK_NAME} letters, digits, '.', '_' or '-'"
    )


def _sink(name: str, section: Any) -> Sink:
    if not isinstance(section, Mapping) or not isinstance(section.get("type"), str):
        raise ValidationError(f"sink {name}: expected a table with a type")
    options = {k: v for k, v in section.items() if k != "type"}
    kind = section["type"]
    try:
        if kind == "webhook":
            return _webhook(name, **options)
        if kind == "command":
            return _command(name, **options)
    except TypeError as exc:
        raise ValidationError(f"sink {name}: {exc}") from None
    return _plugin(name, kind, options)


MAX_SECONDS, MAX_RETRIES = 3600.0, 100


def _webhook(
    name: str,
    url: object,
    secret_env: object = None,
    timeout: object = 10.0,
    retries: object = 3,
    backoff: object = 0.5,
) -> Sink:
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ValidationError(f"sink {name}: url must be an http:// or https:// URL in quotes")
    secret = None
    if secret_env is not None:
        if not isinstance(secret_env, str):
            raise ValidationError(f"sink {name}: secret_env must name a variable, in quotes")
        value = os.environ.get(secret_env)
        if not value:
            raise ValidationError(f"sink {name}: the secret's variable {secret_env} is not set")
        secret = value.encode("utf-8")
    return WebhookSink(url, secret=secret, **_attempts(name, timeout, retries, backoff))


def _command(
    name: str, command: object, timeout: object = 30.0, retries: object = 3, backoff: object = 0.5
) -> Sink:
    if not isinstance(command, list) or not command or not all(isinstance(c, str) for c in command):
        raise ValidationError(f"sink {name}: command must be a list of strings")
    return CommandSink(command, **_attempts(name, timeout, retries, backoff))


def _attempts(name: str, timeout: object, retries: object, backoff: object) -> dict[str, Any]:
    """The options every sink shares, checked: numbers, not strings, within sane bounds."""
    return {
        "timeout": _seconds(name, "timeout", timeout, zero_allowed=False),
        "retries": _count(name, "retries", retries),
        "backoff": _seconds(name, "backoff", backoff, zero_allowed=True),
    }


def _seconds(name: str, key: str, value: object, *, zero_allowed: bool) -> float:
    if not (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and (value >= 0 if zero_allowed else value > 0)
        and value <= MAX_SECONDS
    ):
        lowest = "0" if zero_allowed else "more than 0"
        raise ValidationError(
            f"sink {name}: {key} must be a number of seconds from {lowest} to {MAX_SECONDS:g}, "
            f"got {value!r}"
        )
    return float(value)


def _count(name: str, key: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_RETRIES:
        raise ValidationError(
            f"sink {name}: {key} must be a whole number from 0 to {MAX_RETRIES}, got {value!r}"
        )
    return value


def _plugin(name: str, kind: str, options: dict[str, Any]) -> Sink:
    from importlib.metadata import entry_points

    found = list(entry_points(group=PLUGIN_GROUP, name=kind))
    if not found:
        raise ValidationError(
            f"sink {name}: unknown type {kind!r}; expected webhook, command, or a sink "
            f"installed in the {PLUGIN_GROUP} entry-point group"
        )
    factory = found[0].load()
    sink: Sink = factory(options)
    return sink

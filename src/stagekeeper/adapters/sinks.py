"""Event sinks: a webhook, a command, and third-party sinks from entry points.

Configured in a TOML file that the delivery worker reads (``stagekeeper events deliver
--config sinks.toml``): secrets stay in the worker's environment, never in the store that
every reader can see. Each sink retries a failed delivery a bounded number of times with
exponential backoff, then raises ``DeliveryError``. Imports the domain and the service.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any

from stagekeeper.domain.errors import ValidationError
from stagekeeper.service.delivery import DeliveryError, Sink

SIGNATURE_HEADER = "X-Stagekeeper-Signature"
PLUGIN_GROUP = "stagekeeper.sinks"


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
    set: ``X-Stagekeeper-Signature: sha256=<hex>``."""

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
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        self.retrying.run(lambda: self._post(request), f"webhook {self.url}")

    def _post(self, request: urllib.request.Request) -> str | None:
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return None if 200 <= response.status < 300 else f"HTTP {response.status}"
        except urllib.error.HTTPError as exc:
            return f"HTTP {exc.code}"
        except (urllib.error.URLError, OSError) as exc:
            return str(getattr(exc, "reason", exc))


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
    return {str(name): _sink(str(name), section) for name, section in sections.items()}


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


def _webhook(
    name: str,
    url: str,
    secret_env: str | None = None,
    timeout: float = 10.0,
    retries: int = 3,
    backoff: float = 0.5,
) -> Sink:
    if not url.startswith(("http://", "https://")):
        raise ValidationError(f"sink {name}: url must be http:// or https://")
    secret = None
    if secret_env is not None:
        value = os.environ.get(secret_env)
        if not value:
            raise ValidationError(f"sink {name}: the secret's variable {secret_env} is not set")
        secret = value.encode("utf-8")
    return WebhookSink(url, secret=secret, timeout=timeout, retries=retries, backoff=backoff)


def _command(
    name: str, command: list[str], timeout: float = 30.0, retries: int = 3, backoff: float = 0.5
) -> Sink:
    if not isinstance(command, list) or not command or not all(isinstance(c, str) for c in command):
        raise ValidationError(f"sink {name}: command must be a list of strings")
    return CommandSink(command, timeout=timeout, retries=retries, backoff=backoff)


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

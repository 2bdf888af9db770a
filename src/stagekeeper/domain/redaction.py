"""Keeping credentials out of everything stagekeeper prints or raises.

Secrets are masked where they come from, never guessed at in user text:

- **Known secrets** (``Redactor``), for everything printed: the passwords and secret query
  values of the store URLs and tracking URIs the process was given (``--store``, the
  environment), replaced wherever they appear, with the fragments a driver may print of
  them, and those of a URL read later (``learn``: a settings file's store). Secrets
  shorter than ``MIN_SCRUBBED`` characters are not replaced, since replacing
  "pw" everywhere would garble the output.
- **Patterns** (``mask_credentials``), for text that is no user data: a URL about to be
  shown, a driver's or a server's message, a traceback. The password of any
  ``scheme://user:password@host`` (up to the *last* ``@`` of the URL, so a password holding
  ``@`` or ``/`` is masked whole) and the value of secret-looking keys (``password=``, ...).

A reason, a source or an event is printed as it was written: a pattern run over it would
take ``https://grafana:3000/d`` and a later ``models:/m@champion`` for a password and cut
the line (and the JSON document it is part of) in two.

Imports only the standard library.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from urllib.parse import unquote

MASK = "***"
MIN_SCRUBBED = 4
MAX_URL_LENGTH = 8192
# Environment variables that can carry a URL with credentials, or a bare secret.
URL_VARIABLES = ("STAGEKEEPER_STORE", "MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")
SECRET_VARIABLES = ("MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN", "PGPASSWORD")

_SECRET_KEYS = r"password|passwd|pwd|pass|secret|token|access_token|api_key|apikey|sslpassword"
# scheme://user:password@ ... greedy up to the last '@' before white space.
# Schemes and user names are bounded so that scanning a megabyte of text stays linear.
_USERINFO = re.compile(
    r"(?P<head>(?<![A-Za-z0-9+.\-])[A-Za-z][A-Za-z0-9+.\-]{0,31}://[^\s:/@]{0,256}:)"
    r"(?P<secret>\S*)@"
)
_FRAGMENT_SEPARATORS = re.compile(r"[@/:]")
_KEY_VALUE = re.compile(
    rf"(?P<head>(?:^|[?&;\s(,'\"])(?:{_SECRET_KEYS})\s*=\s*)(?P<secret>'[^']*'|[^\s&;,)'\"]+)",
    re.IGNORECASE,
)


def url_secrets(url: str) -> set[str]:
    """The secrets ``url`` carries: its password and secret query values, raw and decoded."""
    found: set[str] = set()
    for pattern in (_USERINFO, _KEY_VALUE):
        for match in pattern.finditer(url):
            secret = match["secret"].strip("'")
            found |= {secret, unquote(secret)}
    # A driver that splits the URL at another '@', '/' or ':' than we do may print a
    # fragment of the password on its own (as a host name, say); know the fragments too.
    fragments = {part for secret in found for part in _FRAGMENT_SEPARATORS.split(secret)}
    return {secret for secret in found | fragments if secret}


def mask_credentials(text: str) -> str:
    """``text`` with every credential-looking part masked: for URLs and for messages from
    drivers and servers, never for user data."""
    text = _USERINFO.sub(lambda m: f"{m['head']}{MASK}@", text)
    return _KEY_VALUE.sub(lambda m: f"{m['head']}{MASK}", text)


def redact_url(url: str) -> str:
    """The URL with its password and secret query values masked, safe to print."""
    return mask_credentials(url)


class Redactor:
    """Masks the known secrets in text; see the module docstring."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets = sorted(
            {secret for secret in secrets if len(secret) >= MIN_SCRUBBED}, key=len, reverse=True
        )

    @classmethod
    def for_urls(cls, urls: Iterable[str], bare_secrets: Iterable[str] = ()) -> Redactor:
        """A redactor that knows the secrets of ``urls`` (store URLs, tracking URIs), and
        ``bare_secrets`` as they are."""
        secrets = set(bare_secrets)
        for url in urls:
            if len(url) <= MAX_URL_LENGTH:  # longer text is no store URL
                secrets |= url_secrets(url)
        return cls(secrets)

    def __call__(self, text: str) -> str:
        secrets = self._secrets
        if _learned:  # longest first, so that no secret is masked in part
            secrets = sorted({*secrets, *_learned}, key=len, reverse=True)
        for secret in secrets:
            text = text.replace(secret, MASK)
        return text


# The secrets of URLs the process read after its redactors were made: a store URL from a
# settings file, known from the moment it is read (``learn``), to every redactor.
_learned: set[str] = set()


def learn(url: str) -> None:
    """Treat the secrets of ``url`` as known from now on, wherever output is masked."""
    if len(url) <= MAX_URL_LENGTH:
        _learned.update(secret for secret in url_secrets(url) if len(secret) >= MIN_SCRUBBED)


def from_environment(urls: Iterable[str] = ()) -> Redactor:
    """A redactor for the store URLs and secrets in the environment, plus ``urls``."""
    given = [os.environ.get(name, "") for name in URL_VARIABLES]
    bare = [os.environ.get(name, "") for name in SECRET_VARIABLES]
    return Redactor.for_urls([*given, *urls], bare)

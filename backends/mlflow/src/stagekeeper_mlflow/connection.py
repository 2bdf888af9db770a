"""From a store URL to an MLflow registry client, with bounded retries, and MLflow's
errors translated into stagekeeper's.

MLflow's HTTP client retries for minutes by default, POSTs included. A promotion tool in a
pipeline must fail in seconds instead, so stagekeeper lowers the defaults; MLflow's own
``MLFLOW_HTTP_REQUEST_MAX_RETRIES``, ``MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR`` and
``MLFLOW_HTTP_REQUEST_TIMEOUT`` still win when the user sets them.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol, cast

from mlflow.entities.model_registry import ModelVersion, RegisteredModel
from mlflow.exceptions import MlflowException
from mlflow.store.entities.paged_list import PagedList
from mlflow.tracking._model_registry.client import ModelRegistryClient

from stagekeeper.domain.errors import (
    BackendError,
    ConflictError,
    NotFoundError,
    StagekeeperError,
    StoreUnreachable,
    ValidationError,
)
from stagekeeper.domain.identity import Identity
from stagekeeper.domain.redaction import from_environment, mask_credentials

QUIET_LOGGERS = ("mlflow.store.db.utils", "alembic")
HTTP_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER": "0.2",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "10",
}


def registry_uri(url: str) -> str:
    """``mlflow://`` -> MLflow's own resolution; ``mlflow+X://...`` -> ``X://...``."""
    scheme, _, rest = url.partition("://")
    if scheme == "mlflow":
        if rest:
            raise ValidationError(
                f"'mlflow://' takes nothing after the scheme, got {url!r}: "
                "use mlflow+http://host:port or mlflow+sqlite:///path.db"
            )
        import mlflow

        return str(mlflow.get_registry_uri())
    return f"{scheme.removeprefix('mlflow+')}://{rest}"


class RegistryClient(Protocol):
    """The part of MLflow's (untyped) registry client that stagekeeper uses, typed.

    Each call is one REST request through a server; the README counts them per operation.
    """

    def create_registered_model(
        self, name: str, tags: dict[str, str] | None = None, description: str | None = None
    ) -> RegisteredModel: ...
    def delete_registered_model(self, name: str) -> None: ...
    def rename_registered_model(self, name: str, new_name: str) -> RegisteredModel: ...
    def get_registered_model(self, name: str) -> RegisteredModel: ...
    def search_registered_models(
        self, filter_string: str, max_results: int, order_by: None, page_token: str | None
    ) -> PagedList[RegisteredModel]: ...
    def set_registered_model_tag(self, name: str, key: str, value: str) -> None: ...
    def delete_registered_model_tag(self, name: str, key: str) -> None: ...
    def set_registered_model_alias(self, name: str, alias: str, version: str) -> None: ...
    def delete_registered_model_alias(self, name: str, alias: str) -> None: ...
    def create_model_version(
        self,
        name: str,
        source: str,
        run_id: str | None = None,
        tags: dict[str, str] | None = None,
        await_creation_for: int = 0,
    ) -> ModelVersion: ...
    def get_model_version(self, name: str, version: str) -> ModelVersion: ...
    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion: ...
    def search_model_versions(
        self,
        filter_string: str,
        max_results: int,
        order_by: list[str] | None,
        page_token: str | None,
    ) -> PagedList[ModelVersion]: ...
    def set_model_version_tag(self, name: str, version: str, key: str, value: str) -> None: ...
    def delete_model_version_tag(self, name: str, version: str, key: str) -> None: ...


def client_for(url: str, *, create: bool = True) -> RegistryClient:
    """A registry client that skips ``MlflowClient``'s extra prompt check on every write.

    ``MlflowClient`` fetches the registered model before each write to check that it is
    not a prompt; stagekeeper's models never are, and that doubles the REST calls.
    """
    for name, value in HTTP_DEFAULTS.items():
        os.environ.setdefault(name, value)
    uri = registry_uri(url)
    if not create:
        _require_existing(uri)
    # MLflow reports creating and migrating its own database at INFO, on stderr: on a
    # successful command that is noise, and it would break the one-line error contract.
    for logger in QUIET_LOGGERS:
        logging.getLogger(logger).setLevel(logging.WARNING)
    if uri.startswith(("http://", "https://")):
        from stagekeeper_mlflow import transport

        if transport.KNOWN:  # else an MLflow whose internals moved: its own client
            return cast(RegistryClient, transport.Client(uri))
    client = ModelRegistryClient(registry_uri=uri, tracking_uri=uri)  # type: ignore[no-untyped-call]
    return cast(RegistryClient, client)


def _require_existing(uri: str) -> None:
    """Refuse an embedded registry file that does not exist, instead of creating it."""
    if not uri.startswith("sqlite:///"):
        return
    path = Path(uri.removeprefix("sqlite:///").partition("?")[0])
    if not path.exists():
        raise StoreUnreachable(
            f"MLflow registry {path} does not exist",
            hint="check the path; a command that writes (e.g. register) creates it",
        )


def error_code(exc: MlflowException) -> str:
    return str(exc.error_code)


def model_missing(client: RegistryClient, exc: MlflowException, name: str) -> bool:
    """Whether a write to model ``name`` failed because the model does not exist. A server
    that checks users answers such a write with PERMISSION_DENIED, not RESOURCE_DOES_NOT_EXIST,
    so that answer is checked with a read."""
    if error_code(exc) == "RESOURCE_DOES_NOT_EXIST":
        return True
    if error_code(exc) != "PERMISSION_DENIED":
        return False
    try:
        client.get_registered_model(name)
    except MlflowException as missing:
        return error_code(missing) == "RESOURCE_DOES_NOT_EXIST"
    return False


def is_missing(exc: MlflowException) -> bool:
    """Whether MLflow said "no such thing"; a missing alias comes as an invalid parameter."""
    if error_code(exc) == "RESOURCE_DOES_NOT_EXIST":
        return True
    return error_code(exc) == "INVALID_PARAMETER_VALUE" and "not found" in str(exc.message)


@contextmanager
def translated_errors(url: str) -> Iterator[None]:
    """Re-raise MLflow's errors as stagekeeper's: one line, the right error code, and no
    credential of ``url`` (or of MLflow's own environment) in the message."""
    try:
        yield
    except StagekeeperError:
        raise
    except MlflowException as exc:
        message = _scrubbed(url, f"MLflow at {url}: {_first_line(exc)}")
        code = error_code(exc)
        if code == "RESOURCE_DOES_NOT_EXIST":
            raise NotFoundError(message) from exc
        if code == "RESOURCE_ALREADY_EXISTS":
            raise ConflictError(message) from exc
        if code == "INVALID_PARAMETER_VALUE":
            raise ValidationError(message) from exc
        if code == "PERMISSION_DENIED":
            raise StoreUnreachable(message) from exc
        raise BackendError(message) from exc
    except OSError as exc:  # connection refused, timeouts, DNS: the store is unreachable
        raise StoreUnreachable(_scrubbed(url, f"cannot reach MLflow at {url}: {exc}")) from exc


def _scrubbed(url: str, message: str) -> str:
    """A driver's message: the known secrets and anything shaped like a credential."""
    return mask_credentials(from_environment([url])(message))


def _first_line(exc: MlflowException) -> str:
    text = str(exc.message if hasattr(exc, "message") else exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def authenticated_user(url: str) -> Identity | None:
    """The user a tracking server authenticates (``MLFLOW_TRACKING_USERNAME``, sent with
    every request), if the server checks users at all (``--app-name basic-auth``): it then
    refuses a request without credentials. An embedded registry, or a server that checks no
    one, verifies nobody."""
    uri = registry_uri(url)
    user = os.environ.get("MLFLOW_TRACKING_USERNAME")
    if not user or not uri.startswith(("http://", "https://")):
        return None
    return Identity(user, "mlflow") if server_checks_users(uri) else None


def server_checks_users(uri: str) -> bool:
    """Whether the tracking server at ``uri`` refuses a request without credentials (401):
    then the user it let through is one it authenticated."""
    import urllib.error
    import urllib.request

    probe = f"{uri.rstrip('/')}/api/2.0/mlflow/registered-models/search?max_results=1"
    try:
        with urllib.request.urlopen(probe, timeout=10) as response:
            return bool(response.status == 401)
    except urllib.error.HTTPError as exc:
        return exc.code == 401
    except OSError:
        return False

"""MLflow's REST requests, without asking for the same headers again on every request.

MLflow's ``http_request`` asks every request-header provider for its headers on each
request, and the Databricks provider tries imports that fail outside Databricks: about
0.7 ms of the client's CPU a request, as much again as the rest of its work, and a
promotion makes 8. And ``requests`` reads the environment's proxies and CA bundle again on
every request (about 0.14 ms). Where nothing can change the headers (MLflow's two
providers alone, not on Databricks), both are read once, by each store; each request then
goes out with MLflow's own retrying session, credentials, timeout and response checks.
Everything else (Databricks, AWS SigV4, an auth or header plugin, a workspace) takes
MLflow's own path; an MLflow whose internals this relies on have moved (``KNOWN``) gets
MLflow's own client instead.
"""

from __future__ import annotations

import base64
import json
import os
from functools import partial
from typing import Any

import requests
from mlflow.exceptions import MlflowException
from mlflow.store.model_registry.rest_store import RestStore
from mlflow.tracking._model_registry.client import ModelRegistryClient
from mlflow.utils.rest_utils import MlflowHostCreds

try:
    from mlflow.environment_variables import (
        MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR,
        MLFLOW_HTTP_REQUEST_BACKOFF_JITTER,
        MLFLOW_HTTP_REQUEST_MAX_RETRIES,
        MLFLOW_HTTP_REQUEST_TIMEOUT,
        MLFLOW_HTTP_RESPECT_RETRY_AFTER_HEADER,
    )
    from mlflow.tracking.request_header.databricks_request_header_provider import (
        DatabricksRequestHeaderProvider,
    )
    from mlflow.tracking.request_header.default_request_header_provider import (
        DefaultRequestHeaderProvider,
    )
    from mlflow.tracking.request_header.registry import (
        _request_header_provider_registry,
        resolve_request_headers,
    )
    from mlflow.utils.credentials import get_default_host_creds
    from mlflow.utils.proto_json_utils import parse_dict
    from mlflow.utils.request_utils import (
        _TRANSIENT_FAILURE_RESPONSE_CODES,
        _get_request_session,
    )
    from mlflow.utils.rest_utils import verify_rest_response
    from mlflow.utils.workspace_context import get_request_workspace

    KNOWN = True
except ImportError:  # another MLflow: its own path for every request
    KNOWN = False


class Client(ModelRegistryClient):
    """MLflow's registry client over ``Store`` (a server's REST API)."""

    def __init__(self, uri: str) -> None:
        self._store = Store(uri)
        super().__init__(registry_uri=uri, tracking_uri=uri)

    @property
    def store(self) -> Store:
        return self._store


class Store(RestStore):
    """MLflow's REST store, its requests sent by ``send`` where they are plain."""

    def __init__(self, uri: str) -> None:
        super().__init__(partial(get_default_host_creds, uri))
        self.headers = fixed_headers()
        # What ``requests`` reads from the environment (proxies, a CA bundle), as it would
        # for each request, read once per host, check and client certificate.
        self.environment: dict[tuple[str, Any, Any], dict[str, Any]] = {}

    def _call_endpoint(
        self,
        api: Any,
        json_body: str | None,
        call_all_endpoints: bool = False,
        extra_headers: dict[str, str] | None = None,
    ) -> Any:
        creds = self.get_host_creds()
        if call_all_endpoints or extra_headers or self.headers is None or not plain(creds):
            return super()._call_endpoint(api, json_body, call_all_endpoints, extra_headers)
        endpoint, method = self._get_endpoint_from_method(api)
        body = None if json_body is None else json.loads(json_body)
        sent = send(creds, self.headers, endpoint, method, body, self.environment)
        response = verify_rest_response(sent, endpoint)
        answer = self._get_response_from_method(api)
        if response.status_code != 204:
            parse_dict(js_dict=json.loads(response.text), message=answer)
        return answer


def fixed_headers() -> dict[str, str] | None:
    """The headers every request carries, if no provider can change them: MLflow's own
    two alone, and not on Databricks. ``None`` otherwise."""
    providers = list(_request_header_provider_registry)
    known = (DatabricksRequestHeaderProvider, DefaultRequestHeaderProvider)
    if any(type(p) not in known for p in providers):
        return None
    if any(isinstance(p, DatabricksRequestHeaderProvider) and p.in_context() for p in providers):
        return None
    return dict(resolve_request_headers())


def plain(creds: MlflowHostCreds) -> bool:
    """Credentials that are a user and password, a token, or none, with no workspace."""
    special = (
        creds.use_databricks_sdk, creds.aws_sigv4, creds.auth, creds.client_secret,
        creds.workspace_id,
    )  # fmt: skip
    return not any(special) and get_request_workspace() is None


def send(
    creds: MlflowHostCreds,
    headers: dict[str, str],
    endpoint: str,
    method: str,
    body: Any,
    environment: dict[tuple[str, Any, Any], dict[str, Any]],
) -> Any:
    """One request as MLflow's ``http_request`` sends it, with ``headers``, through MLflow's
    retrying session: what ``requests.Session.request`` does, with the environment's
    settings for this host from ``environment`` (read there the first time)."""
    host = creds.host.rstrip("/")
    url = f"{host}{endpoint}"
    headers = {**headers, **authorization(creds)}
    payload = {"params": body or {}} if method == "GET" else {"json": body}
    session = _get_request_session(
        MLFLOW_HTTP_REQUEST_MAX_RETRIES.get(),
        MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR.get(),
        MLFLOW_HTTP_REQUEST_BACKOFF_JITTER.get(),
        _TRANSIENT_FAILURE_RESPONSE_CODES,
        True,  # raise on status, as MLflow's http_request asks
        MLFLOW_HTTP_RESPECT_RETRY_AFTER_HEADER.get(),
    )
    key = (host, creds.verify, creds.client_cert_path)
    if key not in environment:
        environment[key] = session.merge_environment_settings(
            host, {}, None, creds.verify, creds.client_cert_path
        )
    # MLflow reads this one on every request, from the environment.
    redirects = os.environ.get("MLFLOW_ALLOW_HTTP_REDIRECTS", "true").lower() in ("true", "1")
    try:
        prepared = session.prepare_request(
            requests.Request(method.upper(), url, headers=headers, **payload)
        )
        return session.send(
            prepared,
            timeout=MLFLOW_HTTP_REQUEST_TIMEOUT.get(),
            allow_redirects=redirects,
            **environment[key],
        )
    except requests.exceptions.Timeout as exc:  # as http_request words them
        raise MlflowException(
            f"API request to {url} failed with timeout exception {exc}. To increase the "
            f"timeout, set the environment variable {MLFLOW_HTTP_REQUEST_TIMEOUT} to a larger "
            "value."
        ) from exc
    except Exception as exc:
        raise MlflowException(f"API request to {url} failed with exception {exc}") from exc


def authorization(creds: MlflowHostCreds) -> dict[str, str]:
    if creds.username and creds.password:
        pair = f"{creds.username}:{creds.password}".encode()
        return {"Authorization": f"Basic {base64.standard_b64encode(pair).decode()}"}
    if creds.token:
        return {"Authorization": f"Bearer {creds.token}"}
    return {}

"""The MLflow store: the champion alias is the truth, stages are mirrored in tags, and the
history is a registered model of its own (``history``). See ``mapping`` for the layout.

MLflow has no transaction across calls. A write plans from what it read, then writes in an
order that any crash leaves readable: the history record first, then the alias (the commit
point for a champion), then the stage tags. Writers are ordered by the history's numbers,
and take the timeframe's lock (see ``lock``) only where two meet, a repair is due or a
writer died (``ordered``, decision record 18). A record names its writer, so the next
writer or ``doctor`` finishes a dead writer's operation if its record was written.
"""

from __future__ import annotations

import dataclasses
import heapq
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from mlflow.entities.model_registry import ModelVersion as MlflowVersion
from mlflow.exceptions import MlflowException

from stagekeeper.domain.approvals import ApprovalRequest
from stagekeeper.domain.errors import ValidationError
from stagekeeper.domain.identity import Identity
from stagekeeper.domain.model import (
    Finding,
    Metrics,
    ModelVersion,
    Plan,
    Registration,
    StageChange,
    TimeframeStatus,
)
from stagekeeper.domain.policy import PolicyChange
from stagekeeper.domain.stages import Stage
from stagekeeper.domain.tokens import ApiToken
from stagekeeper.service.ports import SERVES_MODELS_URIS, Planner, StoreOptions
from stagekeeper_mlflow import doctor, mapping, ordered, sequence
from stagekeeper_mlflow.connection import (
    RegistryClient,
    authenticated_user,
    client_for,
    error_code,
    model_missing,
    registry_uri,
    translated_errors,
)
from stagekeeper_mlflow.history import HistoryLog, Tip
from stagekeeper_mlflow.lock import TimeframeLock, trusted_for
from stagekeeper_mlflow.lookups import (
    Lookups,
    or_none,
    readable_history,
    to_time,
    to_version,
)
from stagekeeper_mlflow.mapping import STAGE_TAG
from stagekeeper_mlflow.ordering import GaveWay
from stagekeeper_mlflow.parallel import AtOnce
from stagekeeper_mlflow.settings import Settings

# The least trust window for a write without the lock: shorter leases (the tests' "every
# lock is dead") take the lock for every write.
MIN_TRUST = 1.0  # seconds


class MlflowStore:
    """A ``ModelStore`` on an MLflow model registry; see ``stagekeeper.service.ports``."""

    # MLflow numbers versions itself, and its loaders resolve models:/<name>@champion.
    capabilities: frozenset[str] = frozenset({SERVES_MODELS_URIS})

    def __init__(
        self,
        url: str,
        options: StoreOptions,
        *,
        lease_seconds: float = 60.0,
        wait_seconds: float | None = None,
    ) -> None:
        self.options = options
        self.url = url
        self.lease_seconds = lease_seconds
        self.wait_seconds = options.lock_timeout if wait_seconds is None else wait_seconds
        # A writer without the lock writes within this of its record (``ordered.Trust``);
        # with less, every write takes the lock.
        self.trust_seconds = trusted_for(lease_seconds)
        with translated_errors(self.url):
            self.lookups = Lookups(client_for(url, create=options.create), options)
        self.at_once = AtOnce(enabled=url.startswith("mlflow+http"))
        self.champions: dict[str, int | None] = {}  # as last seen: ``LockedView._fetch``
        # Whether a model said it needs no policy, as last seen: ``LockedView._read_models``
        self.policy_free: dict[str, bool] = {}
        # The newest record this store wrote, by model, once all its writes landed; and the
        # history's end it left (``ordered``).
        self.settled: dict[str, int] = {}
        self.tips: dict[str, Tip] = {}

    @property
    def client(self) -> RegistryClient:
        """The one registry client, shared with the lookups."""
        return self.lookups.client

    # -- writes -------------------------------------------------------------------------

    def register(self, registration: Registration) -> ModelVersion:
        if registration.version is not None:
            raise ValidationError(
                "MLflow numbers model versions itself: register without --model-version"
            )
        if not registration.source:
            raise ValidationError(
                "MLflow needs to know where the model lives: register with --source "
                "(a runs:/<run_id>/<path> or artifact URI)"
            )
        name = registration.model_name
        # Under the lock, like every write: the record then lands at the history's end.
        with translated_errors(self.url), self.lock(name).held() as lease:
            sequence.finish_inherited(self, name, lease)
            lease.check()
            created = self._create_version(name, registration.source, registration.metrics)
            number = int(created.version)
            # The record carries MLflow's own creation time, so version and history agree.
            change = dataclasses.replace(
                registration.change_for(number), at=to_time(created.creation_timestamp)
            )
            lease.check()
            record = mapping.encode_history([change], lease.token)
            ordered.registered(
                self, name, self.history_of(name).append([change], record, lease.token)
            )
        return to_version(registration.timeframe, created)

    def _create_version(self, name: str, source: str, metrics: Metrics) -> MlflowVersion:
        tags = {STAGE_TAG: Stage.DEVELOPMENT.value, **mapping.metric_tags(metrics)}
        run_id = _run_of(source)
        try:
            return self.client.create_model_version(
                name, source, run_id=run_id, tags=tags, await_creation_for=0
            )
        except MlflowException as exc:
            if not model_missing(self.client, exc, name):
                raise
        # No model: a history of that name outlived a model deleted by hand. Set aside
        # before the model exists, so that a crash in between leaves nothing inherited.
        self.history_of(name).set_aside_orphan(datetime.now(UTC))
        try:
            self.client.create_registered_model(name, tags=mapping.NO_POLICY_MARK)
        except MlflowException as exc:
            if error_code(exc) != "RESOURCE_ALREADY_EXISTS":  # a rival created it first
                raise
        else:
            self.settings.check_new_model(name)
        return self.client.create_model_version(
            name, source, run_id=run_id, tags=tags, await_creation_for=0
        )

    def transact(self, timeframe: str, planner: Planner) -> Plan | None:
        name = self.options.model_name(timeframe)
        with translated_errors(self.url):
            if self.trust_seconds >= MIN_TRUST:
                try:
                    return ordered.without_lock(self, timeframe, name, planner)
                except GaveWay:
                    pass  # it wrote nothing that counts: the lock, and plan again
            with self.lock(name).held() as lease:
                sequence.finish_inherited(self, name, lease)
                return ordered.under_lock(self, timeframe, name, planner, lease)

    def claim(self, name: str, check: Callable[[], None]) -> Tip:
        """Take the history's next number before a repair under the lock (``ordered``)."""
        return ordered.claim(self, name, check)

    def history_of(self, name: str) -> HistoryLog:
        return HistoryLog(self.client, name)

    def lock(self, name: str) -> TimeframeLock:
        return TimeframeLock(
            self.client,
            name,
            lease_seconds=self.lease_seconds,
            wait_seconds=self.wait_seconds,
        )

    # -- reads --------------------------------------------------------------------------

    def get(self, timeframe: str, version: int) -> ModelVersion | None:
        with translated_errors(self.url):
            found = self.lookups.fetch(self.options.model_name(timeframe), version)
            return self.lookups.described(timeframe, found)

    def champion(self, timeframe: str) -> ModelVersion | None:
        with translated_errors(self.url):
            found = self.lookups.champion(self.options.model_name(timeframe))
            return self.lookups.described(timeframe, found)

    def versions(
        self, timeframe: str | None = None, stage: Stage | None = None
    ) -> list[ModelVersion]:
        with translated_errors(self.url):
            found = [
                version
                for tf, model in self.lookups.models(timeframe)
                for version in self.lookups.versions(tf, model, stage)
            ]
        return sorted(found, key=lambda v: (v.timeframe, v.version))

    def status(self) -> list[TimeframeStatus]:
        by_timeframe: dict[str, list[ModelVersion]] = {}
        for version in self.versions():
            by_timeframe.setdefault(version.timeframe, []).append(version)
        return [TimeframeStatus.of(found) for _tf, found in sorted(by_timeframe.items())]

    def history(
        self,
        timeframe: str | None = None,
        version: int | None = None,
        limit: int | None = None,
    ) -> list[StageChange]:
        with translated_errors(self.url):
            timeframes = [
                [
                    change
                    for record in self.history_of(model.name).records(model.tags or {})
                    for change in readable_history(tf, model.name, record.value)
                    if version is None or change.version == version
                ]
                for tf, model in self.lookups.models(timeframe)
            ]
        # Each timeframe in its own order (its records' numbers), the timeframes by time.
        changes = list(heapq.merge(*timeframes, key=_at))
        return changes[-limit:] if limit else changes

    def metrics(self, timeframe: str, version: int) -> Metrics:
        with translated_errors(self.url):
            return self.metrics_of(self.lookups.fetch(self.options.model_name(timeframe), version))

    def metrics_of(self, raw: MlflowVersion | None) -> Metrics:
        """A version's metrics: its run's (one request), and stagekeeper's tags over them."""
        if raw is None:
            return {}
        tagged = mapping.tagged_metrics(raw.tags or {})
        if not raw.run_id:
            return tagged
        run = or_none(lambda: self.tracking.get_run(raw.run_id))
        logged = dict(run.data.metrics) if run is not None else {}
        return {**logged, **tagged}

    @cached_property
    def tracking(self) -> Any:
        """MLflow's tracking client, for the runs behind versions; made when first needed."""
        from mlflow.tracking._tracking_service.client import TrackingServiceClient

        return TrackingServiceClient(registry_uri(self.url))  # type: ignore[no-untyped-call]

    def requests(self, timeframe: str | None = None) -> list[ApprovalRequest]:
        with translated_errors(self.url):
            models = self.lookups.models(timeframe)
        found = [r for _tf, model in models for r in mapping.tagged_requests(model.tags or {})]
        return sorted(found, key=lambda request: (request.requested_at, request.id))

    def identity(self) -> Identity | None:
        return self._authenticated

    @cached_property
    def _authenticated(self) -> Identity | None:
        return authenticated_user(self.url)  # asked once

    # -- policies -----------------------------------------------------------------------

    def policies(self) -> dict[str | None, Mapping[str, Any]]:
        return mapping.policies_in(self.settings.tags())

    def set_policy(self, change: PolicyChange) -> None:
        """One tag, both the history entry and the document in force, written once no model
        says that no policy is set (``Settings.set_policy``)."""
        with translated_errors(self.url):
            key, value = mapping.policy_key(change), mapping.encode_policy(change)
            self.settings.set_policy(key, value, lambda: [m for _, m in self.lookups.models(None)])

    def policy_history(self) -> list[PolicyChange]:
        return mapping.decode_policies(self.settings.tags())

    def delivered(self, sink: str) -> str | None:
        return self.settings.tags().get(f"{mapping.DELIVERED_PREFIX}{sink}") or None

    def mark_delivered(self, sink: str, cursor: str) -> None:
        with translated_errors(self.url):
            self.settings.set(f"{mapping.DELIVERED_PREFIX}{sink}", cursor)

    def tokens(self) -> list[ApiToken]:
        return mapping.decode_tokens(self.settings.tags())

    def keep_token(self, token: ApiToken) -> None:
        with translated_errors(self.url):
            self.settings.set(*mapping.encode_token(token))

    @property
    def settings_model(self) -> str:
        return self.settings.name

    @cached_property
    def settings(self) -> Settings:
        return Settings(self.client, self.url, self.options.model_name_template)

    # -- legacy stages ------------------------------------------------------------------

    def legacy_stages(self, timeframe: str) -> dict[int, str]:
        """Versions stagekeeper does not manage yet, with MLflow's deprecated stage names."""
        name = self.options.model_name(timeframe)
        with translated_errors(self.url):
            return {
                int(raw.version): raw.current_stage or "None"
                for raw in self.lookups.search(f"name={mapping.quote(name)}")
                if STAGE_TAG not in (raw.tags or {})
            }

    # -- doctor -------------------------------------------------------------------------

    def examine(self, timeframe: str | None, *, fix: bool) -> list[Finding]:
        with translated_errors(self.url):
            return [
                finding
                for tf, model in self.lookups.models(timeframe)
                for finding in doctor.examine(self, tf, model.name, fix=fix)
            ]

    def close(self) -> None:
        """MLflow's clients hold no connection; the threads of ``at_once`` end."""
        self.at_once.close()


def _run_of(source: str) -> str | None:
    """MLflow wants the run of a ``runs:/<run_id>/<path>`` source named separately."""
    if not source.startswith("runs:/"):
        return None
    run_id = source.removeprefix("runs:/").split("/", 1)[0]
    if not run_id:
        raise ValidationError(f"source {source!r} names no run: expected runs:/<run_id>/<path>")
    return run_id


def _at(change: StageChange) -> datetime:
    return change.at

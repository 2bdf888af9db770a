"""The MLflow store: the champion alias is the truth, stages are mirrored in tags, and the
history is a registered model of its own (``history``). See ``mapping`` for the layout.

MLflow has no transaction across calls, so every write takes the timeframe's lock (see
``lock``), checks the plan's preconditions, then writes in an order that any crash leaves
readable: the history record first, then the alias (the commit point for a champion),
then the stage tags. The record carries the lock's token, so the next writer or ``doctor``
finishes a dead writer's operation if its record was written, and drops it otherwise.
"""

from __future__ import annotations

import dataclasses
import heapq
import os
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from mlflow.entities.model_registry import ModelVersion as MlflowVersion
from mlflow.entities.model_registry import RegisteredModel
from mlflow.exceptions import MlflowException

from stagekeeper.domain.approvals import ApprovalRequest
from stagekeeper.domain.errors import ValidationError
from stagekeeper.domain.model import (
    Finding,
    Metrics,
    ModelVersion,
    Plan,
    Registration,
    StageChange,
    TimeframeStatus,
    former_champions,
    previous_champion,
)
from stagekeeper.domain.policy import PolicyChange
from stagekeeper.domain.stages import Cause, Stage
from stagekeeper.service.ports import SERVES_MODELS_URIS, Planner, StoreOptions
from stagekeeper_mlflow import doctor, mapping
from stagekeeper_mlflow.connection import (
    RegistryClient,
    client_for,
    error_code,
    registry_uri,
    translated_errors,
)
from stagekeeper_mlflow.history import ChangeTimes, HistoryLog, Record, own
from stagekeeper_mlflow.lock import Lease, TimeframeLock
from stagekeeper_mlflow.lookups import (
    Lookups,
    champion_of,
    or_none,
    readable_history,
    to_time,
    to_version,
)
from stagekeeper_mlflow.mapping import CHAMPION_ALIAS, STAGE_TAG

Check = Callable[[], None]
# A version and the champion are read in one search when fewer numbers than this apart.
NEIGHBOURS = 20


class _View:
    """A timeframe read under its lock. Reads are kept for the rest of the step: under the
    lock no other stagekeeper writer can change them, and the planner and the write path's
    checks then ask MLflow once for each thing."""

    def __init__(self, store: MlflowStore, timeframe: str, name: str, check: Check) -> None:
        self.store, self.lookups = store, store.lookups
        self.timeframe, self.name, self.check = timeframe, name, check
        self._raw: dict[int, MlflowVersion | None] = {}
        self._found: dict[int, ModelVersion | None] = {}

    @cached_property
    def _models(self) -> dict[str, RegisteredModel]:
        """The timeframe's model and the settings model (the policy) in one search: every
        write reads the one, and a promotion the other. Every read of the view starts here,
        so this is where a planner is kept from a late write (``doctor.undo_late_writes``):
        a marked model may hold one, and is put back as the history has it, then read again.
        """
        found = self.lookups.named(self.name, self.store.settings_model)
        model = found.get(self.name)
        if model is None or not mapping.fenced_marks(model.tags or {}):
            return found
        doctor.undo_late_writes(self.store, self.timeframe, self.name, self.check)
        return self.lookups.named(self.name, self.store.settings_model)

    @cached_property
    def model(self) -> RegisteredModel | None:
        return self._models.get(self.name)

    @cached_property
    def legacy(self) -> dict[str, str]:
        """The model's tags: where history written before its own model still lives, and
        where writers waiting for the lock announce themselves."""
        return dict(self.model.tags or {}) if self.model else {}

    def read_tags(self) -> dict[str, str]:
        """The model's tags if this view has read them (a failed read is not repeated)."""
        return self.legacy if "_models" in self.__dict__ else {}

    @cached_property
    def log(self) -> HistoryLog:
        return self.store.history_of(self.name)

    @cached_property
    def times(self) -> ChangeTimes:
        return ChangeTimes(self.log, lambda: self.legacy)

    @cached_property
    def holder(self) -> int | None:
        """The champion's number, from the alias."""
        holder = champion_of(self.model) if self.model else None
        return None if holder is None else int(holder)

    def get(self, version: int) -> ModelVersion | None:
        if version not in self._found:
            self._fetch(version)
        return self._found[version]

    def _fetch(self, version: int) -> None:
        """Read ``version``, and the champion with it when their numbers are close (a
        promotion asks for both, and usually crowns a recent version): one search over
        the numbers between them instead of two requests."""
        wanted = {version}
        holder = self.holder
        if holder is not None and holder not in self._raw and abs(holder - version) < NEIGHBOURS:
            wanted.add(holder)
        if self.model is None:
            found: dict[int, MlflowVersion] = {}
        elif len(wanted) == 1:
            raw = self.lookups.fetch(self.name, version)
            found = {} if raw is None else {version: raw}
        else:
            found = self.lookups.between(self.name, min(wanted), max(wanted))
        alias_holder = None if holder is None else str(holder)
        changed = self.times.of({n for n in wanted if found.get(n) is not None})
        for number in wanted:
            raw = found.get(number)
            self._raw[number] = raw
            self._found[number] = (
                None if raw is None else to_version(self.timeframe, raw, alias_holder, changed)
            )

    def champion(self) -> ModelVersion | None:
        return None if self.holder is None else self.get(self.holder)

    def versions(self) -> list[ModelVersion]:
        if self.model is None:
            return []
        return sorted(self.lookups.versions(self.timeframe, self.model, None), key=_by_number)

    def history(self) -> list[StageChange]:
        return self._changes(self.log.records(self.legacy))

    def _changes(self, records: list[Record]) -> list[StageChange]:
        """The changes these records hold, less those written for an earlier model of this
        name (``doctor`` reports them): a rollback, a gate or a repair decides from this
        model's history alone."""
        created = self.model.creation_timestamp if self.model else None
        return [
            c
            for r in own(records, created)
            for c in readable_history(self.timeframe, self.name, r.value)
        ]

    @cached_property
    def _crownings(self) -> list[StageChange]:
        return self._changes(self.log.crownings(self.legacy))

    def previous_champion(self, current: int | None) -> ModelVersion | None:
        # The records that crowned a version, one search: no need for the whole history.
        return previous_champion(self._crownings, self.get, current)

    def was_champion(self, version: int) -> bool:
        return version in former_champions(self._crownings)

    def metrics(self, version: int) -> Metrics:
        self.get(version)
        return self.store.metrics_of(self._raw[version])

    def requests(self) -> list[ApprovalRequest]:
        return mapping.tagged_requests(self.model.tags or {}) if self.model else []

    def policies(self) -> dict[str | None, Mapping[str, Any]]:
        settings = self._models.get(self.store.settings_model)
        return mapping.policies_in(settings.tags or {} if settings else {})


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
        with translated_errors(self.url):
            self.lookups = Lookups(client_for(url, create=options.create), options)

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
            self.finish_inherited(name, lease)
            lease.check()
            created = self._create_version(name, registration.source, registration.metrics)
            number = int(created.version)
            # The record carries MLflow's own creation time, so version and history agree.
            change = dataclasses.replace(
                registration.change_for(number), at=to_time(created.creation_timestamp)
            )
            lease.check()
            record = mapping.encode_history([change], lease.token)
            self.history_of(name).append([change], record, lease.token)
        return to_version(registration.timeframe, created)

    def _create_version(self, name: str, source: str, metrics: Metrics) -> MlflowVersion:
        tags = {STAGE_TAG: Stage.DEVELOPMENT.value, **mapping.metric_tags(metrics)}
        run_id = _run_of(source)
        try:
            return self.client.create_model_version(
                name, source, run_id=run_id, tags=tags, await_creation_for=0
            )
        except MlflowException as exc:
            if error_code(exc) != "RESOURCE_DOES_NOT_EXIST":
                raise
        # No model: a history of that name outlived a model deleted by hand. Set aside
        # before the model exists, so that a crash in between leaves nothing inherited.
        self.history_of(name).set_aside_orphan(datetime.now(UTC))
        try:
            self.client.create_registered_model(name)
        except MlflowException as exc:
            if error_code(exc) != "RESOURCE_ALREADY_EXISTS":  # a rival created it first
                raise
        return self.client.create_model_version(
            name, source, run_id=run_id, tags=tags, await_creation_for=0
        )

    def transact(self, timeframe: str, planner: Planner) -> Plan | None:
        name = self.options.model_name(timeframe)
        with translated_errors(self.url), self.lock(name).held() as lease:
            self.finish_inherited(name, lease)
            view = _View(self, timeframe, name, lease.check)
            try:
                plan = planner(view)
            finally:  # refused or not, the lock goes on to a writer kept waiting
                lease.hand_on_to(view.read_tags())
            if plan is None:
                return None
            record = mapping.encode_history(plan.changes, lease.token, moves=not plan.records_only)
            lease.check()
            self.history_of(name).append(plan.changes, record, lease.token)
            self._apply(name, record, lease.check)
            for number, values in plan.metrics.items():
                for key, value in mapping.metric_tags(values).items():
                    lease.check()
                    self.client.set_model_version_tag(name, str(number), key, value)
            for request in plan.requests:
                lease.check()
                self.client.set_registered_model_tag(name, *mapping.request_tag(request))
            return plan

    def finish_inherited(self, name: str, lease: Lease) -> None:
        """Complete a dead writer's operation if its record was written; else drop it. This
        writer's lock names the dead writers (``mapping.FINISHING_TAG``), so that dying here
        hands the operation on.

        Taking over a lock also marks the model (``mapping.FENCED_PREFIX``), naming a holder
        whose operation was dropped: the holder may have been frozen rather than dead, and
        may land one more write when it wakes (see ``lock``), which ``doctor`` undoes."""
        if not lease.taken_from:
            return
        tags = self.client.get_registered_model(name).tags or {}
        log = self.history_of(name)
        writers = list(dict.fromkeys(w for taken in lease.taken_from for w in taken.writers))
        found = log.by_writers(writers, tags)
        for writer in writers:
            dropped = not any(record.writer == writer for record in found)
            lease.check()
            self.client.set_registered_model_tag(
                name, mapping.fenced_key(writer), writer if dropped else ""
            )
        if not found:
            return  # it died before writing anything
        last = found[-1]
        if any(_moves(later.value) for later in log.after(last, tags)):
            return  # a later operation planned from what it saw; doctor reconciles the rest
        self._apply(name, last.value, lease.check)

    def _apply(self, name: str, record: str, check: Check) -> None:
        """Move the alias, then mirror the tags, as the written ``record`` says; safe to
        repeat. ``check`` runs before each write and stops a writer that lost its lock
        (fencing)."""
        if not mapping.replays(record):  # the versions stand where the record leads already
            return
        moves = [c for c in mapping.decode_history("", name, record) if c.moves]
        crowned = [c.version for c in moves if c.crowns]
        dethroned = any(c.from_stage is Stage.CHAMPION for c in moves)
        if crowned:
            check()
            self.client.set_registered_model_alias(name, CHAMPION_ALIAS, str(crowned[0]))
        elif dethroned:
            check()
            self._drop_alias(name)
        for change in moves:
            check()
            self.client.set_model_version_tag(
                name, str(change.version), STAGE_TAG, change.to_stage.value
            )

    def history_of(self, name: str) -> HistoryLog:
        return HistoryLog(self.client, name)

    def _drop_alias(self, name: str) -> None:
        or_none(lambda: self.client.delete_registered_model_alias(name, CHAMPION_ALIAS))

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

    def identity(self) -> str | None:
        """The user a tracking server authenticates (``MLFLOW_TRACKING_USERNAME``, sent with
        every request); an embedded registry authenticates nobody."""
        if not registry_uri(self.url).startswith(("http://", "https://")):
            return None
        return os.environ.get("MLFLOW_TRACKING_USERNAME") or None

    # -- policies -----------------------------------------------------------------------

    def policies(self) -> dict[str | None, Mapping[str, Any]]:
        return mapping.policies_in(self._settings())

    def set_policy(self, change: PolicyChange) -> None:
        """One tag write: the change is both the history entry and the document in force."""
        with translated_errors(self.url):
            self._set_setting(mapping.policy_key(change), mapping.encode_policy(change))

    def policy_history(self) -> list[PolicyChange]:
        return mapping.decode_policies(self._settings())

    # -- event delivery -----------------------------------------------------------------

    def delivered(self, sink: str) -> str | None:
        return self._settings().get(f"{mapping.DELIVERED_PREFIX}{sink}") or None

    def mark_delivered(self, sink: str, cursor: str) -> None:
        with translated_errors(self.url):
            self._set_setting(f"{mapping.DELIVERED_PREFIX}{sink}", cursor)

    @property
    def settings_model(self) -> str:
        return mapping.settings_model(self.options.model_name_template)

    def _settings(self) -> dict[str, str]:
        """The settings model's tags (none if it does not exist yet)."""
        with translated_errors(self.url):
            model = or_none(lambda: self.client.get_registered_model(self.settings_model))
        return {} if model is None else dict(model.tags or {})

    def _set_setting(self, key: str, value: str) -> None:
        try:
            self.client.set_registered_model_tag(self.settings_model, key, value)
            return
        except MlflowException as exc:
            if error_code(exc) != "RESOURCE_DOES_NOT_EXIST":
                raise
        try:
            self.client.create_registered_model(self.settings_model)
        except MlflowException as exc:
            if error_code(exc) != "RESOURCE_ALREADY_EXISTS":  # a rival created it first
                raise
        self.client.set_registered_model_tag(self.settings_model, key, value)

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
        """MLflow's clients hold no connection that needs closing."""


def _run_of(source: str) -> str | None:
    """MLflow wants the run of a ``runs:/<run_id>/<path>`` source named separately."""
    if not source.startswith("runs:/"):
        return None
    run_id = source.removeprefix("runs:/").split("/", 1)[0]
    if not run_id:
        raise ValidationError(f"source {source!r} names no run: expected runs:/<run_id>/<path>")
    return run_id


def _moves(record: str) -> bool:
    """Whether a history record moved a version (not a registration, not metrics)."""
    try:
        return any(
            c.moves and c.cause is not Cause.REGISTRATION
            for c in mapping.decode_history("", "", record)
        )
    except ValueError:
        return False


def _at(change: StageChange) -> datetime:
    return change.at


def _by_number(version: ModelVersion) -> int:
    return version.version


def _number(version: MlflowVersion | None) -> int | None:
    return None if version is None else int(version.version)

"""The in-memory backend (``memory://``): the reference implementation of the ports.

It keeps everything in one process behind one lock, so every operation is atomic. It is
a shipped product, not a test fake: the contract suite holds it to the same behaviour
as the persistent stores. Versions are kept per timeframe, with each timeframe's champion
and history at hand, so that no operation on one timeframe reads the others. Imports only
the domain, the ports and the service's plain-read view.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from stagekeeper.domain.approvals import ApprovalRequest
from stagekeeper.domain.errors import ConflictError
from stagekeeper.domain.identity import Identity
from stagekeeper.domain.model import (
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
from stagekeeper.service.ports import CHOOSES_VERSION_NUMBERS, Planner, StoreOptions
from stagekeeper.service.reading import StoreView


@dataclass
class _Timeframe:
    """One timeframe's versions by number, its champion's number and its history."""

    versions: dict[int, ModelVersion] = field(default_factory=dict)
    champion: int | None = None
    history: list[StageChange] = field(default_factory=list)
    metrics: dict[int, dict[str, float]] = field(default_factory=dict)
    requests: dict[str, ApprovalRequest] = field(default_factory=dict)  # insertion order

    def record_metrics(self, version: int, metrics: Metrics) -> None:
        if metrics:
            self.metrics.setdefault(version, {}).update(metrics)

    def move(self, change: StageChange) -> None:
        version = self.versions[change.version]
        self.versions[change.version] = version.moved(change.to_stage, change.at)
        if change.to_stage is Stage.CHAMPION:
            self.champion = change.version
        elif self.champion == change.version:
            self.champion = None


class MemoryStore:
    """A ``ModelStore`` held in dicts; see ``stagekeeper.service.ports.ModelStore``."""

    capabilities = frozenset({CHOOSES_VERSION_NUMBERS})

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._timeframes: dict[str, _Timeframe] = {}
        self._history: list[StageChange] = []  # every timeframe's, in commit order
        self._policies: dict[str | None, Mapping[str, Any]] = {}
        self._policy_history: list[PolicyChange] = []
        self._delivered: dict[str, str] = {}
        self._tokens: dict[str, ApiToken] = {}

    def register(self, registration: Registration) -> ModelVersion:
        with self._lock:
            timeframe = self._timeframes.setdefault(registration.timeframe, _Timeframe())
            kept = next(iter(timeframe.versions.values()), None)
            number = registration.number(
                max(timeframe.versions, default=None), None if kept is None else kept.model_name
            )
            if number in timeframe.versions:
                raise ConflictError(f"version {number} of {registration.timeframe} exists already")
            version = ModelVersion(
                timeframe=registration.timeframe,
                model_name=registration.model_name,
                version=number,
                stage=Stage.DEVELOPMENT,
                created_at=registration.at,
                updated_at=registration.at,
                source=registration.source,
            )
            timeframe.versions[number] = version
            timeframe.record_metrics(number, registration.metrics)
            self._record([registration.change_for(number)])
            return version

    def get(self, timeframe: str, version: int) -> ModelVersion | None:
        with self._lock:
            found = self._timeframes.get(timeframe)
            return None if found is None else found.versions.get(version)

    def versions(
        self, timeframe: str | None = None, stage: Stage | None = None
    ) -> list[ModelVersion]:
        with self._lock:
            names = sorted(self._timeframes) if timeframe is None else [timeframe]
            return [
                version
                for name in names
                for _number, version in sorted(self._versions_of(name).items())
                if stage is None or version.stage is stage
            ]

    def _versions_of(self, timeframe: str) -> dict[int, ModelVersion]:
        found = self._timeframes.get(timeframe)
        return {} if found is None else found.versions

    def champion(self, timeframe: str) -> ModelVersion | None:
        with self._lock:
            found = self._timeframes.get(timeframe)
            if found is None or found.champion is None:
                return None
            return found.versions[found.champion]

    def status(self) -> list[TimeframeStatus]:
        with self._lock:
            return [
                TimeframeStatus.of(list(self._timeframes[name].versions.values()))
                for name in sorted(self._timeframes)
            ]

    def transact(self, timeframe: str, planner: Planner) -> Plan | None:
        with self._lock:  # re-entrant: the planner reads through this store's own methods
            plan = planner(StoreView(self, timeframe))
            if plan is None:
                return None
            # A plan that records only leads each version where it stands already.
            found = self._timeframes[timeframe]
            for change in plan.changes:
                if change.moves:
                    found.move(change)
            for number, metrics in plan.metrics.items():
                found.record_metrics(number, metrics)
            found.requests.update((request.id, request) for request in plan.requests)
            self._record(plan.changes)
            return plan

    def _record(self, changes: Iterable[StageChange]) -> None:
        for change in changes:
            self._timeframes[change.timeframe].history.append(change)
            self._history.append(change)

    def history(
        self,
        timeframe: str | None = None,
        version: int | None = None,
        limit: int | None = None,
    ) -> list[StageChange]:
        with self._lock:
            if timeframe is None:
                source = self._history
            else:
                found = self._timeframes.get(timeframe)
                source = [] if found is None else found.history
            found_changes = [c for c in source if version is None or c.version == version]
        return found_changes[-limit:] if limit else found_changes

    def metrics(self, timeframe: str, version: int) -> Metrics:
        with self._lock:
            found = self._timeframes.get(timeframe)
            return {} if found is None else dict(found.metrics.get(version, {}))

    def requests(self, timeframe: str | None = None) -> list[ApprovalRequest]:
        with self._lock:
            names = sorted(self._timeframes) if timeframe is None else [timeframe]
            found = [
                request
                for name in names
                if name in self._timeframes
                for request in self._timeframes[name].requests.values()
            ]
        return sorted(found, key=lambda request: request.requested_at)

    def identity(self) -> Identity | None:
        """A process's memory authenticates nobody."""
        return None

    def tokens(self) -> list[ApiToken]:
        with self._lock:
            return sorted(self._tokens.values(), key=lambda token: token.created_at)

    def keep_token(self, token: ApiToken) -> None:
        with self._lock:
            self._tokens[token.id] = token

    def policies(self) -> dict[str | None, Mapping[str, Any]]:
        with self._lock:
            return dict(self._policies)

    def set_policy(self, change: PolicyChange) -> None:
        with self._lock:
            self._policies[change.timeframe] = change.document
            self._policy_history.append(change)

    def policy_history(self) -> list[PolicyChange]:
        with self._lock:
            return list(self._policy_history)

    def delivered(self, sink: str) -> str | None:
        with self._lock:
            return self._delivered.get(sink)

    def mark_delivered(self, sink: str, cursor: str) -> None:
        with self._lock:
            self._delivered[sink] = cursor

    def close(self) -> None:
        """Nothing to release."""


def open_store(_url: str, _options: StoreOptions) -> MemoryStore:
    """Entry point for ``memory://``: a new, empty store each time."""
    return MemoryStore()

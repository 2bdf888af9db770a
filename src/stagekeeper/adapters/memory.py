"""The in-memory backend (``memory://``): the reference implementation of the ports.

It keeps everything in one process behind one lock, so every operation is atomic. It is
a shipped product, not a test fake: the contract suite holds it to the same behaviour
as the persistent stores. Imports only the domain and the ports.
"""

from __future__ import annotations

import dataclasses
import threading

from stagekeeper.domain.errors import ConflictError
from stagekeeper.domain.model import ModelVersion, Plan, Registration, StageChange
from stagekeeper.domain.stages import Stage
from stagekeeper.service.ports import CHOOSES_VERSION_NUMBERS, Planner, StoreOptions


class MemoryStore:
    """A ``ModelStore`` held in a dict; see ``stagekeeper.service.ports.ModelStore``."""

    capabilities = frozenset({CHOOSES_VERSION_NUMBERS})

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._versions: dict[tuple[str, int], ModelVersion] = {}
        self._history: list[StageChange] = []

    def register(self, registration: Registration) -> ModelVersion:
        with self._lock:
            number = registration.version or self._next_version(registration.timeframe)
            key = (registration.timeframe, number)
            if key in self._versions:
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
            self._versions[key] = version
            self._history.append(registration.change_for(number))
            return version

    def _next_version(self, timeframe: str) -> int:
        taken = [number for (tf, number) in self._versions if tf == timeframe]
        return max(taken, default=0) + 1

    def get(self, timeframe: str, version: int) -> ModelVersion | None:
        return self._versions.get((timeframe, version))

    def versions(
        self, timeframe: str | None = None, stage: Stage | None = None
    ) -> list[ModelVersion]:
        with self._lock:
            found = [
                version
                for version in self._versions.values()
                if (timeframe is None or version.timeframe == timeframe)
                and (stage is None or version.stage is stage)
            ]
        return sorted(found, key=lambda v: (v.timeframe, v.version))

    def champion(self, timeframe: str) -> ModelVersion | None:
        champions = self.versions(timeframe, Stage.CHAMPION)
        return champions[0] if champions else None

    def transact(self, timeframe: str, planner: Planner) -> Plan | None:
        with self._lock:  # re-entrant: the planner reads through this store's own methods
            plan = planner(_View(self, timeframe))
            if plan is None:
                return None
            # A plan that records only leads each version where it stands already.
            for change in plan.changes:
                key = (change.timeframe, change.version)
                self._versions[key] = dataclasses.replace(
                    self._versions[key], stage=change.to_stage, updated_at=change.at
                )
            self._history.extend(plan.changes)
            return plan

    def history(
        self,
        timeframe: str | None = None,
        version: int | None = None,
        limit: int | None = None,
    ) -> list[StageChange]:
        with self._lock:
            found = [
                change
                for change in self._history
                if (timeframe is None or change.timeframe == timeframe)
                and (version is None or change.version == version)
            ]
        return found[-limit:] if limit else found

    def close(self) -> None:
        """Nothing to release."""


class _View:
    """The memory store's timeframe view: its own reads, under its lock."""

    def __init__(self, store: MemoryStore, timeframe: str) -> None:
        self.store, self.timeframe = store, timeframe

    def get(self, version: int) -> ModelVersion | None:
        return self.store.get(self.timeframe, version)

    def champion(self) -> ModelVersion | None:
        return self.store.champion(self.timeframe)

    def versions(self) -> list[ModelVersion]:
        return self.store.versions(self.timeframe)

    def history(self) -> list[StageChange]:
        return self.store.history(self.timeframe)


def open_store(_url: str, _options: StoreOptions) -> MemoryStore:
    """Entry point for ``memory://``: a new, empty store each time."""
    return MemoryStore()

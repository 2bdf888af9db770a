"""A timeframe read for one MLflow write, under its lock or after the history's end: what a
planner may read. Reads are kept for the rest of the step, and the planner and the write
path's checks then ask MLflow once for each thing. Imports the domain, the ports and the
MLflow store's reading modules.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

from mlflow.entities.model_registry import ModelVersion as MlflowVersion
from mlflow.entities.model_registry import RegisteredModel

from stagekeeper.domain.approvals import ApprovalRequest
from stagekeeper.domain.model import (
    Metrics,
    StageChange,
    former_champions,
    previous_champion,
)
from stagekeeper.domain.stages import Stage
from stagekeeper_mlflow import doctor, mapping
from stagekeeper_mlflow.history import HistoryLog, Record, Tip, own
from stagekeeper_mlflow.lease import waiters_in
from stagekeeper_mlflow.lookups import champion_of, readable_history, stage_with, to_time
from stagekeeper_mlflow.ordering import GaveWay

if TYPE_CHECKING:
    from stagekeeper_mlflow.store import MlflowStore

Check = Callable[[], None]
# A version and the champion are read in one search when fewer numbers than this apart.
NEIGHBOURS = 20


@dataclass(frozen=True, slots=True)
class LockedVersion:
    """A version as the lock shows it (the domain's ``VersionState``): its stage from the
    alias and the stage tags. Not when it last moved: that would cost a promotion up to two
    searches of the history (a third of its requests), and no planner decides on it."""

    timeframe: str
    model_name: str
    version: int
    stage: Stage
    created_at: datetime
    source: str | None


class LockedView:
    """A timeframe read for one write: under its lock, or without it after the history's
    end (decision record 18). Reads are kept for the rest of the step: no other stagekeeper
    writer can change them unseen (a change since voids the write's record), and the
    planner and the write path's checks then ask MLflow once for each thing."""

    def __init__(
        self,
        store: MlflowStore,
        timeframe: str,
        name: str,
        check: Check,
        *,
        locked: bool = True,
        repairs: bool = True,
    ) -> None:
        self.store, self.lookups = store, store.lookups
        self.timeframe, self.name, self.check = timeframe, name, check
        # Read without the lock (decision record 18): a repair or a waiting writer needs it.
        self.locked = locked
        self.repairs = repairs  # undoes a late write before reading on (not doctor's look)
        self._raw: dict[int, MlflowVersion | None] = {}
        self._found: dict[int, LockedVersion | None] = {}
        self._undone = False  # a late write was undone: what was read beside it is stale
        self._settings_read = False  # whether the settings model was searched with the model
        self._in_group = False  # whether the lock is being read beside the model
        self._tip: Tip | None = None  # the history's end, read before anything else

    @cached_property
    def _models(self) -> dict[str, RegisteredModel]:
        """The timeframe's model and the settings model (the policy) in one search: every
        write reads the one, and a promotion the other. Every read of the view starts here,
        so this is where a planner is kept from a late write (``doctor.undo_late_writes``):
        a marked model may hold one, and is put back as the history has it, then read again.
        """
        self._read_tip()
        if self._in_group:
            found = self._read_models()
        else:  # without the lock, whether it is held, beside the model
            found, *_ = self.store.at_once.reads(self._read_models, *self._lock_read())
        model = found.get(self.name)
        if not mapping.fenced_marks(model.tags or {} if model else {}):
            return found
        if not self.locked:
            raise GaveWay("a late write to undo: that takes the lock")
        if not self.repairs:
            return found
        # No write without the lock lands meanwhile; the history's end is the claim's.
        self._tip = self.store.claim(self.name, self.check)
        doctor.undo_late_writes(self.store, self.timeframe, self.name, self.check)
        self._undone = True
        return self._read_models()

    def _read_models(self) -> dict[str, RegisteredModel]:
        """The model, with the settings model in the same search; a get of the model alone
        (a cheaper request) where it said last time that no policy is set."""
        # Per read: a model read again (after a late write was undone) may say otherwise.
        self._settings_read = not self.store.policy_free.get(self.name)
        if self._settings_read:
            found = self.lookups.named(self.name, self.store.settings_model)
        else:
            model = self.lookups.model(self.name)
            found = {} if model is None else {self.name: model}
        model = found.get(self.name)
        self.store.policy_free[self.name] = model is not None and mapping.policy_free(
            model.tags or {}
        )
        return found

    @property
    def tip(self) -> Tip:
        """The history's end: the number of its next record, and its newest record."""
        self._read_tip()
        assert self._tip is not None
        return self._tip

    def _read_tip(self) -> None:
        """Read the history's end before anything else (decision record 18), so that every
        record not in it voids this writer's; or take it as this store left it, which is
        older still."""
        if self._tip is None:
            self._tip = self.store.tips.get(self.name) or self.log.tip()

    @cached_property
    def lock_held(self) -> bool:
        """Whether another writer holds the lock (read by a writer without it, once)."""
        return self.lock_held_now()

    def lock_held_now(self) -> bool:
        return self.lookups.model(mapping.lock_name(self.name)) is not None

    def waiting(self) -> bool:
        """Whether writers announced that they wait for the lock (gone ones too: a lock
        holder takes their announcements away)."""
        return bool(waiters_in(self.legacy))

    def _lock_read(self) -> list[Callable[[], object]]:
        """Without the lock, whether it is held: read beside the model, once."""
        return [] if self.locked or "lock_held" in self.__dict__ else [lambda: self.lock_held]

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
    def holder(self) -> int | None:
        """The champion's number, from the alias."""
        holder = champion_of(self.model) if self.model else None
        number = None if holder is None else int(holder)
        self.store.champions[self.name] = number
        return number

    def get(self, version: int) -> LockedVersion | None:
        if version not in self._found:
            self._fetch(version)
        return self._found[version]

    def _fetch(self, version: int) -> None:
        """Read ``version``, and the champion with it when their numbers are close (a
        promotion asks for both, and usually crowns a recent version): one search over the
        numbers between them. Where this store has seen the timeframe before, the first read
        goes with the model's, and with it the champion it last saw, if the alias still names
        it: then a promotion reads all it needs at once. Where it has not, the model is read
        first (a guess would cost a request). When versions last moved is not read
        (``LockedVersion``)."""
        found: dict[int, MlflowVersion] = {}
        searched: set[int] = set()
        if "_models" not in self.__dict__ and self.name in self.store.champions:
            guess = self._near(version, self.store.champions[self.name])
            self._read_tip()  # first, as in ``_models``
            lock = self._lock_read()
            self._in_group = True
            _, found, *_ = self.store.at_once.reads(
                lambda: self._models, lambda: self._search(guess), *lock
            )
            searched = set() if self._undone else guess
        missing = self._near(version, self.holder) - searched
        if missing:
            found = {**found, **self._search(missing)}
        for number in searched | missing:
            raw = found.get(number)
            self._raw[number] = raw
            self._found[number] = None if raw is None else self._locked(raw)

    def _locked(self, raw: MlflowVersion) -> LockedVersion:
        return LockedVersion(
            timeframe=self.timeframe,
            model_name=raw.name,
            version=int(raw.version),
            stage=stage_with(raw, None if self.holder is None else str(self.holder)),
            created_at=to_time(raw.creation_timestamp),
            source=raw.source or None,
        )

    def _near(self, version: int, other: int | None) -> set[int]:
        """``version``, and ``other`` if not read yet and close enough to share its search."""
        if other is None or other in self._raw or abs(other - version) >= NEIGHBOURS:
            return {version}
        return {version, other}

    def tags_of(self, versions: set[int]) -> dict[int, dict[str, str] | None]:
        """The tags of these versions: as read, else read now (``None``: no such version)."""
        missing = sorted(versions - self._raw.keys())
        found: dict[int, MlflowVersion] = {}
        if missing and missing[-1] - missing[0] < NEIGHBOURS:
            found = self._search(set(missing))
        elif missing:
            reads = [lambda n=n: self.lookups.fetch(self.name, n) for n in missing]
            answers = self.store.at_once.reads(*reads)
            found = {n: raw for n, raw in zip(missing, answers, strict=True) if raw is not None}
        for number in missing:
            raw = self._raw[number] = found.get(number)
            self._found[number] = None if raw is None else self._locked(raw)
        tags = {n: self._raw[n] for n in versions}
        return {n: None if raw is None else dict(raw.tags or {}) for n, raw in tags.items()}

    def _search(self, wanted: set[int]) -> dict[int, MlflowVersion]:
        """The versions of ``wanted`` that exist: none of a model that does not."""
        if len(wanted) == 1:
            (number,) = wanted
            raw = self.lookups.fetch(self.name, number)
            return {} if raw is None else {number: raw}
        return self.lookups.between(self.name, min(wanted), max(wanted))

    def champion(self) -> LockedVersion | None:
        guess = self.store.champions.get(self.name)
        if "_models" not in self.__dict__ and guess is not None:
            self.get(guess)  # read beside the model, whose alias then tells
        return None if self.holder is None else self.get(self.holder)

    def versions(self) -> list[LockedVersion]:
        """Every version as the lock shows it: a search per 1,000, none of the history."""
        if self.model is None:
            return []
        found = self.lookups.search(f"name={mapping.quote(self.name)}")
        return sorted((self._locked(raw) for raw in found), key=lambda v: v.version)

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

    def previous_champion(self, current: int | None) -> LockedVersion | None:
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
        """The settings model's policies: as read with the model, or none where the model
        says that no policy is set; else read now."""
        models = self._models
        if self._settings_read:
            settings = models.get(self.store.settings_model)
            return mapping.policies_in(settings.tags or {} if settings else {})
        if self.model is not None and mapping.policy_free(self.model.tags or {}):
            return {}
        return mapping.policies_in(self.store.settings.tags())

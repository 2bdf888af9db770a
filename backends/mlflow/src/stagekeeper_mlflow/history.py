"""A timeframe's history on MLflow: one model version per operation, on a registered model
of its own, ``stagekeeper history of <model>``.

Why versions: MLflow's server reads a registered model with all its tags on every write to
it, so a history kept in the model's tags (one per operation, as stagekeeper first did)
slowed every request on the model as it grew, for every client of the model. A version of
another model costs the same at any length, and MLflow numbers versions itself, under the
timeframe's lock, so a record's number is its place in the history.

Each record version carries its JSON record (``mapping.encode_history``) in ``RECORD_TAG``
and, so that the operations that need only some records ask only for those:
``WRITER_TAG`` (the lock token of its writer: finishing a dead writer's operation),
``CROWNS_TAG`` (rollback's former champions) and one ``MOVED_PREFIX<n>`` per version it
moved (a version's last change, its ``updated_at``).

A record carries ``EXPECTS_TAG``, the number its writer read as next (decision record 18):
with any other, another record came first and it is void (readers pass over it). A claim
(``CLAIM_TAG``, no record) takes a number before a repair under the lock. ``EXTRAS_TAG``
marks a record whose writer writes metrics or requests after the alias and the tags.

History written before this layout stays in the model's tags (``mapping.HISTORY_PREFIX``),
and is older than every record here: readers put it first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from mlflow.entities.model_registry import ModelVersion as MlflowVersion
from mlflow.exceptions import MlflowException

from stagekeeper.domain.model import StageChange
from stagekeeper.domain.stages import Cause
from stagekeeper_mlflow import mapping
from stagekeeper_mlflow.connection import RegistryClient, error_code, model_missing
from stagekeeper_mlflow.mapping import CROWNS_TAG, MOVED_PREFIX, RECORD_TAG, WRITER_TAG

EXPECTS_TAG = "stagekeeper.expects"
CLAIM_TAG = "stagekeeper.claim"
EXTRAS_TAG = "stagekeeper.extras"

# MLflow's server wants a version's source to be an absolute URI; a record has no artifact.
SOURCE = "stagekeeper:/history"
PAGE_SIZE = 1000
# A writer usually finds the versions it moves among the last few records.
FIRST_PAGE = 20
# The history's newest versions read by a write, in which it usually finds a record.
TIP_SIZE = 5
# Versions not among them are searched for one by one up to this many, else read in pages.
FEW = 5
# MLflow stamps a model and a record with the clock of the process that wrote each: a
# server's, or an embedded client's, which may be another machine's.
CLOCK_MARGIN_MS = 60_000
NEWEST_FIRST = ["version_number DESC"]
OLDEST_FIRST = ["version_number ASC"]

LegacyTags = Callable[[], Mapping[str, str]]


@dataclass(frozen=True)
class Record:
    """One operation's record: ``key`` names it (a version of the history model, or a tag
    of the older layout), ``order`` sorts it, ``number`` is its version (``None``: a tag)."""

    key: str
    value: str
    number: int | None = None
    created_ms: int | None = None  # when MLflow created its version (``None``: a tag)
    expects: int | None = None  # the number its writer read as next (``EXPECTS_TAG``)
    extras: bool = False  # its writer writes metrics or requests after it

    @property
    def void(self) -> bool:
        """Another record took the number its writer expected: it never happened."""
        return self.expects is not None and self.number != self.expects

    @property
    def order(self) -> tuple[int, int, str]:
        return (0, 0, self.key) if self.number is None else (1, self.number, "")

    @property
    def writer(self) -> str | None:
        return mapping.writer_of(self.value)


@dataclass(frozen=True)
class Tip:
    """The history's end, as a write reads it: the number its next version will have,
    the newest record that counts, and whether the newest version is a lock holder's
    claim (a repair under way)."""

    next_number: int
    record: Record | None
    claimed: bool = False


class HistoryLog:
    """The history of one registered model: appended under its lock, read in pages."""

    def __init__(self, client: RegistryClient, model_name: str) -> None:
        self.client = client
        self.model_name = model_name
        self.name = mapping.history_model(model_name)

    # -- writing ------------------------------------------------------------------------

    def append(
        self,
        changes: Sequence[StageChange],
        record: str,
        writer: str | None,
        *,
        expects: int | None = None,
        extras: bool = False,
    ) -> int:
        """Write one operation's record: one request (two more the first time, to create
        the history's model), whose version and tags MLflow stores in one transaction.
        Returns its number: where it ``expects`` another, the record is void."""
        tags = {RECORD_TAG: record, **index_tags(changes)}
        if writer:
            tags[WRITER_TAG] = writer
        if expects is not None:
            tags[EXPECTS_TAG] = str(expects)
        if extras:
            tags[EXTRAS_TAG] = "yes"
        return self._write(tags)

    def claim(self, writer: str, expects: int) -> int:
        """Take the number ``expects`` for a lock holder's repair; returns the number
        given: the claim holds where they are the same."""
        return self._write({CLAIM_TAG: "yes", WRITER_TAG: writer, EXPECTS_TAG: str(expects)})

    def _write(self, tags: dict[str, str]) -> int:
        try:
            return self._create(tags)
        except MlflowException as exc:
            if not model_missing(self.client, exc, self.name):
                raise
        try:
            self.client.create_registered_model(
                self.name, description=f"stagekeeper's history of {self.model_name}"
            )
        except MlflowException as exc:
            if error_code(exc) != "RESOURCE_ALREADY_EXISTS":  # a rival created it first
                raise
        return self._create(tags)

    def set_aside_orphan(self, at: datetime) -> None:
        """Rename this history, if it exists, to ``<name>, set aside <UTC time>``: called
        just before its model is created, it is a history whose model was deleted by hand,
        and the model created anew under that name must not inherit it (a rollback would
        crown the old model's numbers)."""
        aside = f"{self.name}, set aside {at.astimezone(UTC):%Y%m%dT%H%M%S}Z"
        try:
            self.client.rename_registered_model(self.name, aside)
        except MlflowException as exc:
            if not model_missing(self.client, exc, self.name):
                raise

    def _create(self, tags: dict[str, str]) -> int:
        created = self.client.create_model_version(
            self.name, SOURCE, tags=tags, await_creation_for=0
        )
        return int(created.version)

    def set_aside(self, record: Record, prefix: str) -> None:
        """Take a record out of the history, kept under a tag of ``prefix`` (``doctor``'s
        repairs): on its version, or for the older layout, on the model."""
        if record.number is None:
            aside = prefix + record.key.removeprefix(mapping.HISTORY_PREFIX)
            self.client.set_registered_model_tag(self.model_name, aside, record.value)
            self.client.delete_registered_model_tag(self.model_name, record.key)
            return
        version = str(record.number)
        self.client.set_model_version_tag(self.name, version, prefix.rstrip("."), record.value)
        self.client.delete_model_version_tag(self.name, version, RECORD_TAG)

    # -- reading ------------------------------------------------------------------------

    def tip(self) -> Tip:
        """The history's end: its newest versions, newest first, in pages only as far as
        the newest record that moves a version (one page, nearly always). Void records and
        claims pass, and so do registrations: their version exists before their record,
        so they have nothing to land and are written under the lock without waiting for
        another record to land. An empty or missing history: the next number is 1."""
        page = self.client.search_model_versions(self._named(), TIP_SIZE, NEWEST_FIRST, None)
        if not page:
            return Tip(1, None)
        claimed = CLAIM_TAG in (page[0].tags or {})
        newest = int(page[0].version)
        while True:
            record = next((r for r in _counted(page) if _moves(r.value)), None)
            if record is not None or not page.token:
                return Tip(newest + 1, record, claimed)
            page = self.client.search_model_versions(
                self._named(), PAGE_SIZE, NEWEST_FIRST, page.token
            )

    def records(self, legacy: Mapping[str, str]) -> list[Record]:
        """Every record, oldest first; ``legacy`` is the model's tags."""
        return [*legacy_records(legacy), *self._search("", OLDEST_FIRST)]

    def by_writers(self, writers: Sequence[str], legacy: Mapping[str, str]) -> list[Record]:
        """The records written by the holders of these lock tokens, oldest first."""
        found = [r for r in legacy_records(legacy) if r.writer in writers]
        for writer in dict.fromkeys(writers):
            found += self._search(f" AND tags.`{WRITER_TAG}`={mapping.quote(writer)}")
        return sorted(found, key=_order)

    def after(self, record: Record, legacy: Mapping[str, str]) -> list[Record]:
        """The records written after ``record``, oldest first."""
        later = [r for r in legacy_records(legacy) if r.order > record.order]
        clause = "" if record.number is None else f" AND version_number > {record.number}"
        return later + self._search(clause, OLDEST_FIRST)

    def crownings(self, legacy: Mapping[str, str]) -> list[Record]:
        """The records that crowned a version, oldest first."""
        crowned = [r for r in legacy_records(legacy) if _crowns(r.value)]
        return crowned + self._search(f" AND tags.`{CROWNS_TAG}`='yes'", OLDEST_FIRST)

    def last_change(self, version: int, legacy: LegacyTags) -> datetime | None:
        """When ``version`` last changed stage (one request; a void record is passed over)."""
        clause = f"{self._named()} AND tags.`{MOVED_PREFIX}{version}`='yes'"
        page = self.client.search_model_versions(clause, TIP_SIZE, NEWEST_FIRST, None)
        for record in _counted(page):
            moved = last_changed([record])
            if version in moved:
                return moved[version]
        return last_changed(legacy_records(legacy())).get(version)

    def last_changes(self, versions: set[int], legacy: LegacyTags) -> dict[int, datetime]:
        """When each of ``versions`` last changed stage, for a listing: the newest records
        first; then, for the versions not among them, a search each when they are few,
        else pages of older records, newest first, only as far back as they need. The
        older layout's records come last, read only if reached."""
        changed: dict[int, datetime] = {}
        token, size = None, FIRST_PAGE
        while not versions <= changed.keys():
            missing = versions - changed.keys()
            if token and len(missing) <= FEW:
                found = {v: self.last_change(v, legacy) for v in missing}
                return {**changed, **{v: at for v, at in found.items() if at is not None}}
            page = self.client.search_model_versions(self._named(), size, NEWEST_FIRST, token)
            for record in _counted(page):
                for version, at in last_changed([record]).items():
                    changed.setdefault(version, at)  # newest first: the first is the last
            token, size = page.token, PAGE_SIZE
            if not token:
                older = last_changed(legacy_records(legacy()))
                return {**older, **changed}
        return changed

    def _search(self, clause: str, order: list[str] | None = None) -> list[Record]:
        found, token = [], None
        while True:
            page = self.client.search_model_versions(
                f"{self._named()}{clause}", PAGE_SIZE, order, token
            )
            found += _counted(page)
            token = page.token
            if not token:
                return sorted(found, key=_order)

    def _named(self) -> str:
        return f"name={mapping.quote(self.name)}"


def index_tags(changes: Sequence[StageChange]) -> dict[str, str]:
    """The tags a record is found by: whether it crowns, and the versions it moves."""
    moving = [c for c in changes if c.moves]
    tags = {f"{MOVED_PREFIX}{c.version}": "yes" for c in moving}
    if any(c.crowns for c in moving):
        tags[CROWNS_TAG] = "yes"
    return tags


def legacy_records(tags: Mapping[str, str]) -> list[Record]:
    """The history kept in the model's tags by the older layout, oldest first."""
    return [Record(key, value) for key, value in mapping.history_records(tags)]


def last_changed(records: Sequence[Record]) -> dict[int, datetime]:
    """When each version last changed stage, by these records (oldest first)."""
    changed: dict[int, datetime] = {}
    for record in records:
        try:
            changes = mapping.decode_history("", "", record.value)
        except ValueError:
            continue  # doctor reports it
        changed.update({c.version: c.at for c in changes if c.moves})
    return changed


def _record(raw: MlflowVersion) -> Record:
    number = int(raw.version)
    tags = raw.tags or {}
    expects = tags.get(EXPECTS_TAG, "")
    return Record(
        f"{raw.name} v{number}",
        tags.get(RECORD_TAG, ""),
        number,
        raw.creation_timestamp,
        expects=int(expects) if expects.isdigit() else None,
        extras=EXTRAS_TAG in tags,
    )


def _counted(page: Iterable[MlflowVersion]) -> list[Record]:
    """The records among these versions of a history that count: not claims, not void."""
    records = (_record(raw) for raw in page if RECORD_TAG in (raw.tags or {}))
    return [record for record in records if not record.void]


def inherited(records: Sequence[Record], model_created_ms: int | None) -> list[Record]:
    """The records written before their model was created: the history of an earlier model
    of that name, deleted and created again outside stagekeeper (stagekeeper's own
    registration sets such a history aside first). Only records older by more than
    ``CLOCK_MARGIN_MS`` count: the two times may come from two clocks."""
    if model_created_ms is None:
        return []
    before = model_created_ms - CLOCK_MARGIN_MS
    return [r for r in records if r.created_ms is not None and r.created_ms < before]


def own(records: Sequence[Record], model_created_ms: int | None) -> list[Record]:
    """The records written for this model: ``records`` without the ``inherited`` ones."""
    old = {record.key for record in inherited(records, model_created_ms)}
    return [record for record in records if record.key not in old]


def _moves(value: str) -> bool:
    """Whether a record moves a version other than by registering it."""
    try:
        changes = mapping.decode_history("", "", value)
    except ValueError:
        return False
    return any(c.moves and c.cause is not Cause.REGISTRATION for c in changes)


def _crowns(value: str) -> bool:
    try:
        return any(c.crowns and c.moves for c in mapping.decode_history("", "", value))
    except ValueError:
        return False


def _order(record: Record) -> tuple[int, int, str]:
    return record.order

"""``doctor`` for MLflow: where the alias, the stage tags, the history and the lock disagree.

Each timeframe is examined under its write lock, as writers take it, so that a writer's
half-made change is never mistaken for disagreement; repairs are made in the same locked
step, each behind the lease's fencing check. The alias is the truth for the champion, so
tags are brought in line with it, and a change made by hand is recorded in the history as
one (the service's drift repair). Once a writer has broken an expired lock, though, the
model is marked (``mapping.FENCED_PREFIX``): the lock's holder may have been frozen, not dead, and
may land one write after waking; until the next ``doctor --fix``, what differs from the
history is that write, and is undone toward the last committed operation. An interrupted
operation (a lock whose lease ran out) is finished if its history record (the one carrying
the lock's token) was written, and dropped if not. An unreadable history record is moved
aside, not deleted, and so are the records older than the model: the history of a model of
that name deleted and created again by hand, which the writers' reads already pass over.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from mlflow.entities.model_registry import RegisteredModel

from stagekeeper.domain.doctor import INTERRUPTED_OPERATION, OPERATION_IN_PROGRESS, STALE_WRITE
from stagekeeper.domain.errors import LockTimeout
from stagekeeper.domain.model import Finding
from stagekeeper.domain.stages import Stage
from stagekeeper_mlflow import mapping, sequence
from stagekeeper_mlflow.history import Record, inherited, own
from stagekeeper_mlflow.lease import HeldLock
from stagekeeper_mlflow.lookups import champion_of, readable_history, to_time
from stagekeeper_mlflow.mapping import CHAMPION_ALIAS, STAGE_TAG

if TYPE_CHECKING:
    from stagekeeper_mlflow.store import MlflowStore

STALE_CHAMPION_TAG = "stale-champion-tag"
UNTAGGED_CHAMPION = "champion-tag-missing"
UNREADABLE = "unreadable-history"
# A model that says no policy is set, in a registry that has one: its writes would skip it.
SKIPPED_POLICY = "policy-skipped"
# Records of an earlier model of the same name. Writers and the drift check pass over them.
INHERITED = "inherited-history"
SET_ASIDE, DROPPED = mapping.UNREADABLE_ASIDE, mapping.DROPPED_ASIDE
INHERITED_ASIDE = mapping.INHERITED_ASIDE
# Takes the record of a history key out of the history, kept under a tag of this prefix.
SetAside = Callable[[str, str], None]


def examine(store: MlflowStore, timeframe: str, name: str, *, fix: bool) -> list[Finding]:
    """One timeframe's findings, read under its lock and, with ``fix``, repaired there."""
    lock = store.lock(name)
    left = lock.find()
    interrupted = [_interrupted(timeframe, left)] if left and lock.expired(left) else []
    if interrupted and not fix:
        return interrupted  # taking the lock would finish its operation: that is a repair
    try:
        with lock.held() as lease:
            sequence.finish_inherited(store, name, lease)
            if fix:  # no write without the lock lands among the repairs
                store.claim(name, lease.check)
            # A write without the lock may be landing: compare once it has. (Imported here:
            # ``ordered`` reads through the view, which undoes late writes through this.)
            from stagekeeper_mlflow.ordered import wait_landed

            log = store.history_of(name)
            deadline = time.monotonic() + store.wait_seconds
            while True:
                abandoned, landed = wait_landed(store, timeframe, name, lease, finish=fix)
                if abandoned is not None:
                    return [_abandoned(timeframe, name, abandoned)]
                model, marks, records, old, findings = _look(store, timeframe, name)
                # Without --fix nothing stops a write that read the registry before the
                # lock was taken: a finding beside a record written since is looked again.
                if fix or not findings or log.tip().next_number == landed:
                    break
                if time.monotonic() > deadline:
                    raise LockTimeout(f"{name} kept changing while doctor compared it")
            by_key = {record.key: record for record in records}

            def set_aside(key: str, prefix: str) -> None:
                log.set_aside(by_key[key], prefix)

            for finding in findings if fix else []:
                lease.check()
                _repair(store, model, finding, set_aside)
            for mark in marks if fix else []:
                lease.check()
                store.client.delete_registered_model_tag(name, mark)
            for record in old if fix else []:
                lease.check()
                log.set_aside(record, INHERITED_ASIDE)
    except LockTimeout as exc:
        return [Finding(timeframe, None, OPERATION_IN_PROGRESS, exc.message, remedy="")]
    return [dataclasses.replace(f, fixed=fix) for f in [*interrupted, *findings]]


def _look(
    store: MlflowStore, timeframe: str, name: str
) -> tuple[RegisteredModel, dict[str, str], list[Record], list[Record], list[Finding]]:
    """The model, its fencing marks, its own records, those it inherited, and the findings."""
    model = store.client.get_registered_model(name)
    marks = mapping.fenced_marks(model.tags or {})
    records = store.history_of(name).records(model.tags or {})
    old = inherited(records, model.creation_timestamp)
    records = own(records, model.creation_timestamp)
    findings = [_inherited(timeframe, model, old)] if old else []
    findings += _stale_writes(store, timeframe, model, records, marks) if marks else []
    findings += _tag_findings(store, timeframe, model) if not marks else []
    findings += _history_findings(timeframe, model, records)
    findings += _skipped_policy(store, timeframe, model)
    return model, marks, records, old, findings


def undo_late_writes(
    store: MlflowStore, timeframe: str, name: str, check: Callable[[], None]
) -> list[Finding]:
    """What a writer does under the lock, before it plans, while the model is marked: a
    holder that lost its lock may have landed one late write, so the alias, the stage tags
    and the history are put back where the last committed operations left them. The
    history is the truth, and unchanged by this: the late write never entered it. The
    marks stay until ``doctor --fix`` clears them, since a holder still frozen may land
    its write after this."""
    model = store.client.get_registered_model(name)
    marks = mapping.fenced_marks(model.tags or {})
    log = store.history_of(name)
    records = own(log.records(model.tags or {}), model.creation_timestamp)
    by_key = {record.key: record for record in records}
    found = _stale_writes(store, timeframe, model, records, marks) if marks else []
    for finding in found:
        check()
        _undo(store, model, finding, lambda key, prefix: log.set_aside(by_key[key], prefix))
    return found


def _repair(
    store: MlflowStore, model: RegisteredModel, finding: Finding, set_aside: SetAside
) -> None:
    client = store.client
    if finding.code == STALE_WRITE:
        _undo(store, model, finding, set_aside)
    elif finding.code == STALE_CHAMPION_TAG:
        client.set_model_version_tag(
            model.name, str(finding.version), STAGE_TAG, Stage.ARCHIVED.value
        )
    elif finding.code == UNTAGGED_CHAMPION:
        client.set_model_version_tag(
            model.name, str(finding.version), STAGE_TAG, Stage.CHAMPION.value
        )
    elif finding.code == UNREADABLE:
        set_aside(finding.subject, SET_ASIDE)
    elif finding.code == SKIPPED_POLICY:
        store.settings.unmark(model.name)


def _stale_writes(
    store: MlflowStore,
    timeframe: str,
    model: RegisteredModel,
    records: list[Record],
    marks: dict[str, str],
) -> list[Finding]:
    """Where the store differs from what the last committed operations left, once a writer
    may have written after losing its lock: that write is undone. A history record of an
    operation the next writer dropped is set aside; the alias and the tags are put back."""
    # A mark names a dropped holder's token (older marks: its record's history key).
    dropped = {mark for mark in marks.values() if mark}
    stale = {r.key for r in records if r.key in dropped or r.writer in dropped}
    found = [
        Finding(timeframe, None, STALE_WRITE,
                f"history record {r.key} of {model.name} was written after its writer lost "
                "its lock and its operation had been dropped",
                remedy=f"move it aside to {DROPPED}…", subject=r.key)
        for r in records if r.key in stale
    ]  # fmt: skip
    expected = {
        change.version: change.to_stage
        for record in records
        if record.key not in stale
        for change in readable_history(timeframe, model.name, record.value)
    }
    return found + _alias_against(model, timeframe, expected) + [
        Finding(timeframe, int(raw.version), STALE_WRITE,
                f"{model.name} v{raw.version} is tagged "
                f"{(raw.tags or {}).get(STAGE_TAG, 'nothing')}, but the last committed "
                f"operation left it {expected[int(raw.version)].value}",
                remedy=f"tag it {expected[int(raw.version)].value}",
                subject=expected[int(raw.version)].value)
        for raw in store.lookups.search(f"name={mapping.quote(model.name)}")
        if int(raw.version) in expected
        and (raw.tags or {}).get(STAGE_TAG) != expected[int(raw.version)].value
    ]  # fmt: skip


def _alias_against(
    model: RegisteredModel, timeframe: str, expected: dict[int, Stage]
) -> list[Finding]:
    crowned = [version for version, stage in expected.items() if stage is Stage.CHAMPION]
    wanted = str(crowned[-1]) if crowned else None
    holder = champion_of(model)
    if holder == wanted or (wanted is None and int(holder or 0) not in expected):
        return []
    return [
        Finding(timeframe, int(wanted) if wanted else None, STALE_WRITE,
                f"the champion alias of {model.name} is on "
                f"{'v' + holder if holder else 'no version'}, but the last committed "
                f"operation left it on {'v' + wanted if wanted else 'no version'}",
                remedy=f"move it to {'v' + wanted if wanted else 'no version'}",
                subject=CHAMPION_ALIAS)
    ]  # fmt: skip


def _undo(
    store: MlflowStore, model: RegisteredModel, finding: Finding, set_aside: SetAside
) -> None:
    """Put a record, the alias or a stage tag back where the committed history has it."""
    if finding.version is None and finding.subject != CHAMPION_ALIAS:
        set_aside(finding.subject, DROPPED)
    elif finding.subject != CHAMPION_ALIAS:
        store.client.set_model_version_tag(
            model.name, str(finding.version), STAGE_TAG, finding.subject
        )
    elif finding.version is None:
        store.client.delete_registered_model_alias(model.name, CHAMPION_ALIAS)
    else:
        store.client.set_registered_model_alias(model.name, CHAMPION_ALIAS, str(finding.version))


def _inherited(timeframe: str, model: RegisteredModel, old: list[Record]) -> Finding:
    created = to_time(model.creation_timestamp).isoformat(timespec="seconds")
    return Finding(
        timeframe,
        None,
        INHERITED,
        f"{len(old)} history records of {model.name} are older than the model (created "
        f"{created}): written for a model of that name deleted and created again outside "
        "stagekeeper",
        remedy=f"move them aside to {INHERITED_ASIDE}…",
    )


def _interrupted(timeframe: str, held: HeldLock) -> Finding:
    name = held.name.removeprefix(mapping.LOCK_PREFIX)
    return Finding(
        timeframe,
        None,
        INTERRUPTED_OPERATION,
        f"a change to {name} was interrupted {held.age_seconds():.0f} s ago and left its "
        "lock behind",
        remedy="finish it if its history record was written, else drop it; free the lock",
        subject=held.name,
    )


def _abandoned(timeframe: str, name: str, record: Record) -> Finding:
    age = time.time() - (record.created_ms or 0) / 1000
    return Finding(
        timeframe,
        None,
        INTERRUPTED_OPERATION,
        f"a change to {name} was interrupted {age:.0f} s ago, after its history record "
        f"({record.key}) and before all its writes",
        remedy="finish it: land the writes its record describes",
        subject=record.key,
    )


def _tag_findings(store: MlflowStore, timeframe: str, model: RegisteredModel) -> list[Finding]:
    holder = (model.aliases or {}).get(CHAMPION_ALIAS)
    findings = []
    tagged = store.lookups.search(
        f"name={mapping.quote(model.name)} AND tags.`{STAGE_TAG}`='champion'"
    )
    for version in tagged:
        if str(version.version) != str(holder):
            findings.append(
                Finding(
                    timeframe,
                    int(version.version),
                    STALE_CHAMPION_TAG,
                    f"{model.name} v{version.version} is tagged champion "
                    f"but the champion alias is on {'v' + str(holder) if holder else 'no version'}",
                    remedy="tag it archived",
                )
            )
    if holder is not None:
        champion = store.client.get_model_version(model.name, str(holder))
        if (champion.tags or {}).get(STAGE_TAG) != Stage.CHAMPION.value:
            findings.append(
                Finding(
                    timeframe,
                    int(holder),
                    UNTAGGED_CHAMPION,
                    f"{model.name} v{holder} holds the champion alias but is tagged "
                    f"{(champion.tags or {}).get(STAGE_TAG, 'nothing')}",
                    remedy="tag it champion",
                )
            )
    return findings


def _skipped_policy(store: MlflowStore, timeframe: str, model: RegisteredModel) -> list[Finding]:
    """A ``stagekeeper.no-policy`` tag where a policy is set (put there by hand: setting a
    policy takes every one away first, decision record 17)."""
    if not mapping.policy_free(model.tags or {}) or not store.settings.policies_set():
        return []
    return [
        Finding(timeframe, None, SKIPPED_POLICY,
                f"{model.name} says that no policy is set ({mapping.NO_POLICY_TAG}), but "
                "one is: its writes would not read it",
                remedy=f"take {mapping.NO_POLICY_TAG} away")
    ]  # fmt: skip


def _history_findings(
    timeframe: str, model: RegisteredModel, records: list[Record]
) -> list[Finding]:
    findings = []
    for record in records:
        key = record.key
        try:
            mapping.decode_history(timeframe, model.name, record.value)
        except ValueError as exc:
            findings.append(
                Finding(
                    timeframe,
                    None,
                    UNREADABLE,
                    f"history record {key} of {model.name} is unreadable: {exc}",
                    remedy=f"move it aside to {SET_ASIDE}…",
                    subject=key,
                )
            )
    return findings

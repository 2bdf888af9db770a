"""``doctor`` for MLflow: where the alias, the stage tags, the history and the lock disagree.

Each timeframe is examined under its write lock, as writers take it, so that a writer's
half-made change is never mistaken for disagreement; repairs are made in the same locked
step, each behind the lease's fencing check. The alias is the truth for the champion, so
tags are brought in line with it. An interrupted operation (a lock whose lease ran out) is
finished if its history record was written and dropped if not. An unreadable history
record is moved aside, not deleted.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from mlflow.entities.model_registry import RegisteredModel

from stagekeeper.domain.doctor import INTERRUPTED_OPERATION, OPERATION_IN_PROGRESS
from stagekeeper.domain.errors import LockTimeout
from stagekeeper.domain.model import Finding
from stagekeeper.domain.stages import Stage
from stagekeeper_mlflow import mapping
from stagekeeper_mlflow.lock import HeldLock
from stagekeeper_mlflow.mapping import CHAMPION_ALIAS, STAGE_TAG

if TYPE_CHECKING:
    from stagekeeper_mlflow.store import MlflowStore

STALE_CHAMPION_TAG = "stale-champion-tag"
UNTAGGED_CHAMPION = "champion-tag-missing"
UNREADABLE = "unreadable-history"
SET_ASIDE = "stagekeeper.unreadable-history."


def examine(store: MlflowStore, timeframe: str, name: str, *, fix: bool) -> list[Finding]:
    """One timeframe's findings, read under its lock and, with ``fix``, repaired there."""
    lock = store.lock(name)
    left = lock.find()
    interrupted = [_interrupted(timeframe, left)] if left and lock.expired(left) else []
    if interrupted and not fix:
        return interrupted  # taking the lock would finish its operation: that is a repair
    try:
        with lock.held() as lease:
            store.finish_inherited(name, lease)
            model = store.client.get_registered_model(name)
            findings = _tag_findings(store, timeframe, model)
            findings += _history_findings(timeframe, model)
            for finding in findings if fix else []:
                lease.check()
                _repair(store, model, finding)
    except LockTimeout as exc:
        return [Finding(timeframe, None, OPERATION_IN_PROGRESS, exc.message, remedy="")]
    return [dataclasses.replace(f, fixed=fix) for f in [*interrupted, *findings]]


def _repair(store: MlflowStore, model: RegisteredModel, finding: Finding) -> None:
    client = store.client
    if finding.code == STALE_CHAMPION_TAG:
        client.set_model_version_tag(
            model.name, str(finding.version), STAGE_TAG, Stage.ARCHIVED.value
        )
    elif finding.code == UNTAGGED_CHAMPION:
        client.set_model_version_tag(
            model.name, str(finding.version), STAGE_TAG, Stage.CHAMPION.value
        )
    elif finding.code == UNREADABLE:
        value = (model.tags or {})[finding.subject]
        aside = SET_ASIDE + finding.subject.removeprefix(mapping.HISTORY_PREFIX)
        client.set_registered_model_tag(model.name, aside, value)
        client.delete_registered_model_tag(model.name, finding.subject)


def _interrupted(timeframe: str, held: HeldLock) -> Finding:
    name = held.name.removeprefix(mapping.LOCK_PREFIX)
    return Finding(
        timeframe,
        None,
        INTERRUPTED_OPERATION,
        f"a change to {name} was interrupted {held.age_seconds():.0f} s ago and left its "
        "lock behind" + ("" if held.intent else " (with no readable intent)"),
        remedy="finish it if its history record was written, else drop it; free the lock",
        subject=held.name,
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


def _history_findings(timeframe: str, model: RegisteredModel) -> list[Finding]:
    findings = []
    for key, value in mapping.history_records(model.tags or {}):
        try:
            mapping.decode_history(timeframe, model.name, value)
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

"""``doctor`` for MLflow: where the alias, the stage tags, the history and the lock disagree.

The alias is the truth for the champion, so tags are brought in line with it. An
interrupted operation (a lock whose lease ran out) is finished if its history record was
written and dropped if not. An unreadable history record is moved aside, not deleted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlflow.entities.model_registry import RegisteredModel

from stagekeeper.domain.model import Finding
from stagekeeper.domain.stages import Stage
from stagekeeper_mlflow import mapping
from stagekeeper_mlflow.mapping import CHAMPION_ALIAS, STAGE_TAG

if TYPE_CHECKING:
    from stagekeeper_mlflow.store import MlflowStore

STALE_CHAMPION_TAG = "stale-champion-tag"
UNTAGGED_CHAMPION = "champion-tag-missing"
INTERRUPTED = "interrupted-operation"
LOCK_HELD = "operation-in-progress"
UNREADABLE = "unreadable-history"
SET_ASIDE = "stagekeeper.unreadable-history."


def diagnose(store: MlflowStore, timeframe: str, model: RegisteredModel) -> list[Finding]:
    return [
        *_lock_findings(store, timeframe, model.name),
        *_tag_findings(store, timeframe, model),
        *_history_findings(timeframe, model),
    ]


def repair(store: MlflowStore, finding: Finding) -> None:
    name = store.options.model_name(finding.timeframe)
    client = store.client
    if finding.code == STALE_CHAMPION_TAG:
        client.set_model_version_tag(name, str(finding.version), STAGE_TAG, Stage.ARCHIVED.value)
    elif finding.code == UNTAGGED_CHAMPION:
        client.set_model_version_tag(name, str(finding.version), STAGE_TAG, Stage.CHAMPION.value)
    elif finding.code == INTERRUPTED:
        store.recover(name)
    elif finding.code == UNREADABLE:
        value = client.get_registered_model(name).tags.get(finding.subject)
        if value is not None:
            aside = SET_ASIDE + finding.subject.removeprefix(mapping.HISTORY_PREFIX)
            client.set_registered_model_tag(name, aside, value)
            client.delete_registered_model_tag(name, finding.subject)


def _lock_findings(store: MlflowStore, timeframe: str, name: str) -> list[Finding]:
    lock = store.lock(name)
    held = lock.find()
    if held is None:
        return []
    age = held.age_seconds()
    if not lock.expired(held):
        return [
            Finding(timeframe, None, LOCK_HELD,
                    f"{name} is being changed right now (lock held for {age:.0f} s)",
                    remedy="", subject=held.name)
        ]  # fmt: skip
    return [
        Finding(
            timeframe,
            None,
            INTERRUPTED,
            f"a change to {name} was interrupted {age:.0f} s ago and left its lock behind"
            + ("" if held.intent else " (with no readable intent)"),
            remedy="finish it if its history record was written, else drop it; free the lock",
            subject=held.name,
        )
    ]


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

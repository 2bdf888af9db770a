"""The MLflow write sequence, in the order that any crash leaves readable: under the
timeframe's lock, finish (or drop) what a dead writer left, append the history record, then
apply it (the alias, the commit point for a champion, then the stage tags). The store
writes through it, and ``doctor`` repairs through it, so both keep one order. Imports the
domain and the MLflow store's modules.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING

from stagekeeper.domain.model import Plan, StageChange
from stagekeeper.domain.stages import Cause, Stage
from stagekeeper_mlflow import mapping
from stagekeeper_mlflow.connection import RegistryClient
from stagekeeper_mlflow.lease import Lease
from stagekeeper_mlflow.lookups import or_none
from stagekeeper_mlflow.mapping import CHAMPION_ALIAS, STAGE_TAG
from stagekeeper_mlflow.parallel import one_by_one

if TYPE_CHECKING:
    from stagekeeper_mlflow.store import MlflowStore

Check = Callable[[], None]
Group = Callable[[Check, Sequence[Callable[[], object]]], None]  # checks, then writes


def finish_inherited(store: MlflowStore, name: str, lease: Lease) -> None:
    """Complete a dead writer's operation if its record was written; else drop it. This
    writer's lock names the dead writers (``mapping.FINISHING_TAG``), so that dying here
    hands the operation on.

    Taking over a lock also marks the model (``mapping.FENCED_PREFIX``), naming a holder
    whose operation was dropped: the holder may have been frozen rather than dead, and
    may land one more write when it wakes (see ``lock``), which ``doctor`` undoes."""
    if not lease.taken_from:
        return
    tags = store.client.get_registered_model(name).tags or {}
    log = store.history_of(name)
    writers = list(dict.fromkeys(w for taken in lease.taken_from for w in taken.writers))
    found = log.by_writers(writers, tags)
    for writer in writers:
        dropped = not any(record.writer == writer for record in found)
        lease.check()
        store.client.set_registered_model_tag(
            name, mapping.fenced_key(writer), writer if dropped else ""
        )
    if not found:
        return  # it died before writing anything
    last = found[-1]
    if any(moves_a_version(later.value) for later in log.after(last, tags)):
        return  # a later operation planned from what it saw; doctor reconciles the rest
    apply(store.client, name, last.value, lease.check)


def apply(
    client: RegistryClient, name: str, record: str, check: Check, group: Group = one_by_one
) -> None:
    """Move the alias, then mirror the tags, as the written ``record`` says; safe to repeat.
    ``check`` runs before each write and stops a writer that lost its lock (fencing).

    ``group`` may send the tags at once, after one check (``parallel``): the record they
    follow is written, so a crash among them leaves what the next writer or ``doctor``
    finishes from it. The alias lands first, so a record whose tags landed and whose alias
    did not is a change by hand, not a write under way (``ordering``); meanwhile a reader
    sees one champion, the alias holder."""
    if not mapping.replays(record):  # the versions stand where the record leads already
        return
    moves = [c for c in mapping.decode_history("", name, record) if c.moves]
    crowned = [c.version for c in moves if c.crowns]
    dethroned = any(c.from_stage is Stage.CHAMPION for c in moves)
    if crowned:
        check()
        client.set_registered_model_alias(name, CHAMPION_ALIAS, str(crowned[0]))
    elif dethroned:
        check()
        or_none(partial(client.delete_registered_model_alias, name, CHAMPION_ALIAS))
    group(check, [partial(_tag, client, name, change) for change in moves])


def _tag(client: RegistryClient, name: str, change: StageChange) -> None:
    client.set_model_version_tag(name, str(change.version), STAGE_TAG, change.to_stage.value)


def moves_a_version(record: str) -> bool:
    """Whether a history record moved a version (not a registration, not metrics)."""
    try:
        return any(
            c.moves and c.cause is not Cause.REGISTRATION
            for c in mapping.decode_history("", "", record)
        )
    except ValueError:
        return False


def tag(client: RegistryClient, name: str, plan: Plan, check: Check) -> None:
    """What a plan keeps beside its record: metrics on versions, requests on the model."""
    for number, values in plan.metrics.items():
        for key, value in mapping.metric_tags(values).items():
            check()
            client.set_model_version_tag(name, str(number), key, value)
    for request in plan.requests:
        check()
        client.set_registered_model_tag(name, *mapping.request_tag(request))

"""How stagekeeper's state is written into MLflow, as pure functions (no MLflow import).

- The registered model is named by the template, one per timeframe.
- The champion is the registered-model alias ``champion``: MLflow keeps an alias unique per
  model, so it is the source of truth, and ``models:/<name>@champion`` loads it.
- Every version mirrors its stage in the model-version tag ``stagekeeper.stage`` so that
  ``search_model_versions`` can filter by it. No tag means development (a version that
  MLflow registered by itself).
- The history is a registered model of its own, ``stagekeeper history of <model>``, with one
  version per operation holding a JSON record of its changes (see ``history``): visible
  in the MLflow UI. A record names the lock token of the writer that wrote it, so that
  the writer who takes an abandoned lock over finds the operation its holder committed, if
  any (see ``lock``). History written before that layout stays in the model's tags, one
  per operation, ``stagekeeper.history.<time>.<op>``, and is read first.
- Approval requests are registered-model tags ``stagekeeper.request.<id>``, read with the
  model under the lock.
- Metrics set through stagekeeper are model-version tags ``stagekeeper.metric.<name>``; a
  version's run (``runs:/<id>/...``) gives the others, and a tag wins over the run's value.
- Store-wide settings live on a registered model of their own, ``stagekeeper settings of
  <template>`` (a name no template can make: it has spaces; one per template, as each
  template is a registry of its own): the policies, one tag per change,
  ``stagekeeper.policy.<time>.<op>`` (the newest change of each scope is its document in
  force), and each event sink's delivery cursor, ``stagekeeper.delivered.<sink>``.
- A model stagekeeper creates while no policy is set carries ``stagekeeper.no-policy``, so
  that a write need not read the settings model; ``settings.Settings.set_policy`` takes it
  away before a policy is written (decision record 17).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from stagekeeper.domain import approvals
from stagekeeper.domain.approvals import ApprovalRequest
from stagekeeper.domain.identity import Identity
from stagekeeper.domain.model import Metrics, StageChange
from stagekeeper.domain.policy import PolicyChange
from stagekeeper.domain.stages import Cause, Stage
from stagekeeper.domain.tokens import ApiToken

CHAMPION_ALIAS = "champion"
STAGE_TAG = "stagekeeper.stage"
HISTORY_PREFIX = "stagekeeper.history."
LOCK_PREFIX = "stagekeeper-lock."
OWNER_TAG = "stagekeeper.owner"
# On a lock taken over from an expired one: the tokens of the writers whose operation its
# holder finishes first, so that dying while finishing it hands it on to the next writer.
FINISHING_TAG = "stagekeeper.finishing"
HEARTBEAT_TAG = "stagekeeper.heartbeat"
# On the model, one per writer waiting for its lock: "<arrived ms> <gives up ms>". The
# holder that sees them hands the lock on to the longest waiting (see lock.py).
WAITER_PREFIX = "stagekeeper.waiter."
# On the model, one per expired lock a writer broke: its holder, if only frozen, may still
# land one write when it wakes (see lock.py). The value is the holder's token if it had
# committed nothing, so that a record it lands later is known as dropped; else empty.
# ``doctor --fix`` repairs toward the history and removes them.
FENCED_PREFIX = "stagekeeper.fenced."
METRIC_PREFIX = "stagekeeper.metric."
REQUEST_PREFIX = "stagekeeper.request."
POLICY_PREFIX = "stagekeeper.policy."
NO_POLICY_TAG = "stagekeeper.no-policy"
NO_POLICY_MARK = {NO_POLICY_TAG: "no stagekeeper policy was set when this model was created"}
POLICIES_TAG = "stagekeeper.policies"
# The history model's versions: the record, its writer's token, whom it crowned, and
# when each version it moved was moved (``history``).
RECORD_TAG = "stagekeeper.record"
WRITER_TAG = "stagekeeper.writer"
CROWNS_TAG = "stagekeeper.crowns"
MOVED_PREFIX = "stagekeeper.moved."
# Where ``doctor`` keeps the records it sets aside, on their versions.
UNREADABLE_ASIDE = "stagekeeper.unreadable-history."
DROPPED_ASIDE = "stagekeeper.dropped-history."
INHERITED_ASIDE = "stagekeeper.inherited-history."


def stage_of(tags: Mapping[str, str], aliases: Iterable[str]) -> Stage:
    """The stage stagekeeper reads: the alias decides champion, the tag the rest.

    A version tagged champion that lost the alias (a crash between the alias move and the
    tag update, or an alias deleted by hand) reads as archived: there is one champion,
    the alias holder.
    """
    if CHAMPION_ALIAS in aliases:
        return Stage.CHAMPION
    tagged = tags.get(STAGE_TAG)
    try:
        stage = Stage(tagged) if tagged else Stage.DEVELOPMENT
    except ValueError:
        return Stage.DEVELOPMENT
    return Stage.ARCHIVED if stage is Stage.CHAMPION else stage


def encode_history(
    changes: Sequence[StageChange], writer: str | None = None, *, moves: bool = True
) -> str:
    """One operation's changes; what they share (who, when, why) is written once. ``writer``
    is its writer's lock token; ``moves`` false marks a record of changes already made
    (``doctor``'s repairs), which finishing the operation must not replay."""
    first = changes[0]
    return json.dumps(
        {
            **({"writer": writer} if writer else {}),
            **({} if moves else {"moves": False}),
            "operation_id": first.operation_id,
            "at": first.at.astimezone(UTC).isoformat(),
            "actor": first.actor,
            **(
                {"identity": [first.identity.name, first.identity.source]}
                if first.identity is not None
                else {}
            ),
            "reason": first.reason,
            "changes": [
                {
                    "version": c.version,
                    "from": None if c.from_stage is None else c.from_stage.value,
                    "to": c.to_stage.value,
                    "cause": c.cause.value,
                    **({"detail": c.detail} if c.detail is not None else {}),
                }
                for c in changes
            ],
        },
        separators=(",", ":"),
    )


def _identity(value: object) -> Identity | None:
    """A record's identity: ``[name, source]``; records written before identities have none."""
    if value is None:
        return None
    if not isinstance(value, list) or len(value) != 2:
        raise ValueError(f"identity {value!r} is not [name, source]")
    return Identity(str(value[0]), str(value[1]))


def decode_history(timeframe: str, model_name: str, value: str) -> list[StageChange]:
    """The changes of one history record; ``ValueError`` if it is not a whole record."""
    try:
        record: dict[str, Any] = json.loads(value)
        at = datetime.fromisoformat(record["at"]).astimezone(UTC)
        identity = _identity(record.get("identity"))
        return [
            StageChange(
                operation_id=str(record["operation_id"]),
                timeframe=timeframe,
                model_name=model_name,
                version=int(change["version"]),
                from_stage=None if change["from"] is None else Stage(change["from"]),
                to_stage=Stage(change["to"]),
                reason=record["reason"],
                actor=str(record["actor"]),
                at=at,
                cause=Cause(change["cause"]),
                detail=change.get("detail"),
                identity=identity,
            )
            for change in record["changes"]
        ]
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"unreadable history record: {exc}") from exc


def history_records(tags: Mapping[str, str]) -> list[tuple[str, str]]:
    """The model's history tags as (key, value), oldest first."""
    return sorted((k, v) for k, v in tags.items() if k.startswith(HISTORY_PREFIX))


def writer_of(record: str) -> str | None:
    """The lock token of the writer of a history record (``None``: unreadable, or older
    than the field)."""
    try:
        writer = json.loads(record).get("writer")
    except (AttributeError, ValueError):
        return None
    return writer if isinstance(writer, str) else None


def replays(record: str) -> bool:
    """Whether finishing a record's operation moves versions: not for a record of changes
    already made (``encode_history``'s ``moves``)."""
    try:
        return json.loads(record).get("moves", True) is not False
    except (AttributeError, ValueError):
        return False


def metric_tags(metrics: Metrics) -> dict[str, str]:
    """Metrics as version tags; ``repr`` of a float reads back as the same float."""
    return {f"{METRIC_PREFIX}{name}": repr(float(value)) for name, value in metrics.items()}


def tagged_metrics(tags: Mapping[str, str]) -> dict[str, float]:
    """The metrics among a version's tags; a value that is not a number is skipped."""
    found = {}
    for key, value in tags.items():
        if key.startswith(METRIC_PREFIX):
            try:
                found[key.removeprefix(METRIC_PREFIX)] = float(value)
            except ValueError:
                continue
    return found


def request_tag(request: ApprovalRequest) -> tuple[str, str]:
    document = json.dumps(approvals.to_document(request), separators=(",", ":"), sort_keys=True)
    return f"{REQUEST_PREFIX}{request.id}", document


def tagged_requests(tags: Mapping[str, str]) -> list[ApprovalRequest]:
    """The approval requests among a model's tags, oldest first; unreadable ones skipped."""
    found = []
    for key, value in tags.items():
        if key.startswith(REQUEST_PREFIX):
            try:
                found.append(approvals.from_document(json.loads(value)))
            except (KeyError, TypeError, ValueError):
                continue
    return sorted(found, key=lambda request: (request.requested_at, request.id))


DELIVERED_PREFIX = "stagekeeper.delivered."
# The console's API tokens, on the settings model: the digest, never the token.
TOKEN_PREFIX = "stagekeeper.token."


def encode_token(token: ApiToken) -> tuple[str, str]:
    value = {
        "user": token.user, "role": token.role, "digest": token.digest,
        "created_at": token.created_at.astimezone(UTC).isoformat(),
        "revoked_at": None if token.revoked_at is None else token.revoked_at.isoformat(),
        "expires_at": None if token.expires_at is None else token.expires_at.isoformat(),
    }  # fmt: skip
    return f"{TOKEN_PREFIX}{token.id}", json.dumps(value, separators=(",", ":"))


def decode_tokens(tags: Mapping[str, str]) -> list[ApiToken]:
    found = []
    for key, value in tags.items():
        if key.startswith(TOKEN_PREFIX):
            kept = json.loads(value)
            revoked, expires = kept.get("revoked_at"), kept.get("expires_at")
            found.append(
                ApiToken(
                    key.removeprefix(TOKEN_PREFIX), kept["user"], kept["role"], kept["digest"],
                    datetime.fromisoformat(kept["created_at"]),
                    None if revoked is None else datetime.fromisoformat(revoked),
                    None if expires is None else datetime.fromisoformat(expires),
                )
            )  # fmt: skip
    return sorted(found, key=lambda token: token.created_at)


def settings_model(template: str) -> str:
    return f"stagekeeper settings of {template}"


def history_model(model_name: str) -> str:
    return f"stagekeeper history of {model_name}"


def policy_key(change: PolicyChange) -> str:
    micros = int(change.at.timestamp() * 1_000_000)
    return f"{POLICY_PREFIX}{micros:017d}.{change.operation_id}"


def encode_policy(change: PolicyChange) -> str:
    return json.dumps(
        {
            "operation_id": change.operation_id,
            "timeframe": change.timeframe,
            "document": change.document,
            "actor": change.actor,
            "at": change.at.astimezone(UTC).isoformat(),
            "reason": change.reason,
        },
        separators=(",", ":"),
        sort_keys=True,
    )


def decode_policies(tags: Mapping[str, str]) -> list[PolicyChange]:
    """The policy changes among the policy model's tags, oldest first."""
    changes = []
    for _key, value in sorted((k, v) for k, v in tags.items() if k.startswith(POLICY_PREFIX)):
        record = json.loads(value)
        changes.append(
            PolicyChange(
                operation_id=str(record["operation_id"]),
                timeframe=record["timeframe"],
                document=record["document"],
                actor=str(record["actor"]),
                at=datetime.fromisoformat(record["at"]).astimezone(UTC),
                reason=record["reason"],
            )
        )
    return changes


def policy_free(model_tags: Mapping[str, str]) -> bool:
    """Whether a model's tags say that no policy was set when it was last looked at."""
    return NO_POLICY_TAG in model_tags


def policies_set(settings_tags: Mapping[str, str]) -> bool:
    """Whether the settings model has or is about to have a policy (a policy set before
    the mark existed counts)."""
    return any(k == POLICIES_TAG or k.startswith(POLICY_PREFIX) for k in settings_tags)


def policies_in(tags: Mapping[str, str]) -> dict[str | None, Mapping[str, Any]]:
    """The policy in force for each scope (``None``: the default): its newest document."""
    return {change.timeframe: change.document for change in decode_policies(tags)}


def fenced_key(owner: str) -> str:
    return f"{FENCED_PREFIX}{owner or 'unknown'}"


def fenced_marks(tags: Mapping[str, str]) -> dict[str, str]:
    """The model's marks of broken locks: tag key -> the token of a holder whose operation
    was dropped, or empty. (Marks made before records named their writer hold the dropped
    record's history key instead.)"""
    return {k: v for k, v in tags.items() if k.startswith(FENCED_PREFIX)}


def lock_name(model_name: str) -> str:
    return f"{LOCK_PREFIX}{model_name}"


def template_pattern(template: str) -> tuple[str, re.Pattern[str]]:
    """A LIKE filter that finds the template's models, and a regex that reads their timeframe.

    In LIKE, ``_`` matches any one character; the regex makes the exact check.
    """
    prefix, _, suffix = template.partition("{timeframe}")
    regex = re.compile(
        re.escape(prefix) + r"(?P<timeframe>[A-Za-z0-9_-]{1,32})" + re.escape(suffix)
    )
    return f"{prefix}%{suffix}", regex


def quote(value: str) -> str:
    """A string literal for an MLflow search filter; names with quotes are refused on open."""
    return f"'{value}'"

"""The promotion policy kept in the store: read, set (through the write path), and its
history. Imports the domain and the ports.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stagekeeper.domain import policy as policies
from stagekeeper.domain import validation
from stagekeeper.domain.errors import ValidationError
from stagekeeper.domain.policy import Policy, PolicyChange
from stagekeeper.service.ports import AccessManaged, PolicyStore, TimeframeView
from stagekeeper.service.writing import WritePath


def policy(store: PolicyStore, timeframe: str | None = None) -> Policy:
    """The policy in force: a timeframe's own sections over the default's."""
    documents = store.policies()
    own = None if timeframe is None else documents.get(validation.timeframe(timeframe))
    return policies.effective(documents.get(None), own)


def set_policy(
    path: WritePath,
    document: Mapping[str, Any],
    *,
    timeframe: str | None = None,
    reason: str | None = None,
    actor: str | None = None,
) -> PolicyChange:
    """See ``Registry.set_policy``."""
    scope = None if timeframe is None else validation.timeframe(timeframe)
    parsed = policies.parse(document)
    if parsed.verifies_approvals and path.identity() is None:
        raise ValidationError(
            'this policy counts only verified approvals (approvals_identity = "verified"), '
            "and this store verifies no one: its approvals would all be refused",
            hint="use PostgreSQL with a login per person, or an MLflow server with users; "
            "SQLite and memory:// record declared names only",
        )
    if parsed.protects_stages and not (
        isinstance(path.store, AccessManaged) and path.store.roles_enforced()
    ):
        raise ValidationError(
            "this policy protects a stage for a group (protected_by), and this store does not "
            "enforce groups: nothing would stop another login",
            hint="on PostgreSQL, run `stagekeeper db enforce` first; SQLite, memory:// and "
            "MLflow cannot enforce it",
        )
    context = path.context(reason, actor)
    change = PolicyChange(
        context.operation_id, scope, parsed.document, context.actor, context.at, context.reason
    )
    path.commit(change)
    return change


def policy_of(view: TimeframeView) -> Policy:
    """The timeframe's policy in force, read through the view (under the lock, for a write)."""
    documents = view.policies()
    return policies.effective(documents.get(None), documents.get(view.timeframe))

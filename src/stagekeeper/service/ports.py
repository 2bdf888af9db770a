"""The ports: what every storage backend implements, documented once here.

A backend returns domain objects (never rows or MLflow entities) and translates its
driver's errors into ``stagekeeper.domain.errors``. Imports only the domain.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from stagekeeper.domain import validation
from stagekeeper.domain.approvals import ApprovalRequest
from stagekeeper.domain.identity import Identity
from stagekeeper.domain.model import (
    Finding,
    Metrics,
    ModelVersion,
    Plan,
    Registration,
    StageChange,
    TimeframeStatus,
    VersionState,
)
from stagekeeper.domain.policy import PolicyChange
from stagekeeper.domain.stages import Stage
from stagekeeper.domain.tokens import ApiToken

DEFAULT_MODEL_NAME_TEMPLATE = "{timeframe}_trading_model"

# Capabilities a backend may declare; the service and the contract suite ask for them
# instead of asking which backend they talk to.
CHOOSES_VERSION_NUMBERS = "chooses-version-numbers"
# The store serves models:/<name>@champion to MLflow's own loaders (events name it).
SERVES_MODELS_URIS = "serves-models-uris"


@dataclass(frozen=True)
class StoreOptions:
    """What a backend needs to know beyond its URL."""

    model_name_template: str = DEFAULT_MODEL_NAME_TEMPLATE
    # Stores with a versioned schema refuse to open a mismatched one unless this is off
    # (``stagekeeper db upgrade`` turns it off to do the upgrade).
    check_schema: bool = True
    # Only a command that writes may create a store that does not exist yet; a read of a
    # mistyped path must say so instead of leaving an empty database behind.
    create: bool = True
    # How long a writer waits for the timeframe's write lock before ``LockTimeout``.
    lock_timeout: float = 30.0

    def model_name(self, timeframe: str) -> str:
        return validation.model_name(self.model_name_template, timeframe)


class TimeframeView(Protocol):
    """One timeframe as it stands under the write lock: what a planner may read. Its
    versions are ``VersionState``: their stages as the lock shows them."""

    timeframe: str

    def get(self, version: int) -> VersionState | None:
        """One version, or ``None``."""
        ...

    def champion(self) -> VersionState | None:
        """The champion, or ``None``."""
        ...

    def versions(self) -> Sequence[VersionState]:
        """Every version, ordered by number."""
        ...

    def history(self) -> list[StageChange]:
        """Every recorded change of the timeframe, oldest first."""
        ...

    def previous_champion(self, current: int | None) -> VersionState | None:
        """The archived version most recently crowned, other than ``current``: where a
        rollback goes. One indexed query where the store has indexes."""
        ...

    def was_champion(self, version: int) -> bool:
        """Whether the history ever crowned ``version``."""
        ...

    def metrics(self, version: int) -> Metrics:
        """The version's metrics, by name (empty if none)."""
        ...

    def requests(self) -> list[ApprovalRequest]:
        """The timeframe's approval requests, in every state, oldest first."""
        ...

    def policies(self) -> dict[str | None, Mapping[str, Any]]:
        """The store's policy documents (see ``ModelStore.policies``), read where the
        planner reads: in the write's own transaction where the store has one."""
        ...


Planner = Callable[[TimeframeView], Plan | None]


@dataclass(frozen=True)
class Planned:
    """A write to plan under a timeframe's lock (see ``Registry.commit``)."""

    timeframe: str
    planner: Planner


class VersionStore(Protocol):
    """The versions role: versions and their history, one registered model per timeframe,
    and the one transactional write (``transact``)."""

    #: Optional features this store offers, from the constants above.
    capabilities: frozenset[str]

    def register(self, registration: Registration) -> ModelVersion:
        """Add a version in development and record its registration, atomically.

        Record ``registration.metrics`` with it. With ``registration.version`` set, use that
        number (``ConflictError`` if taken;
        ``ValidationError`` if the store cannot choose numbers); otherwise take the
        timeframe's next number.
        """
        ...

    def get(self, timeframe: str, version: int) -> ModelVersion | None:
        """One version, or ``None`` if the timeframe or version does not exist."""
        ...

    def versions(
        self, timeframe: str | None = None, stage: Stage | None = None
    ) -> list[ModelVersion]:
        """Versions filtered by timeframe and stage, ordered by timeframe then version."""
        ...

    def champion(self, timeframe: str) -> ModelVersion | None:
        """The timeframe's champion, or ``None``."""
        ...

    def status(self) -> list[TimeframeStatus]:
        """Every timeframe's champion and count per stage, ordered by timeframe; counted by
        the store itself where it can (a GROUP BY), not by reading every version."""
        ...

    def transact(self, timeframe: str, planner: Planner) -> Plan | None:
        """Hold the timeframe's write lock, plan through a view read under it, and commit.

        Call ``planner`` with a ``TimeframeView`` whose reads see the timeframe as it stands
        under the lock, then commit the plan it returns atomically: move its versions (a plan
        that ``records_only`` moves nothing, nor does a change whose ``moves`` is false),
        record its ``metrics`` (replacing values of the same name) and its ``requests``
        (replacing those of the same id), and append its changes to the history, in commit
        order. Return the plan,
        or ``None`` if the planner returned ``None`` (nothing to do). Whatever the planner
        raises propagates, and nothing changes. Writers of one
        timeframe wait for each other here, for at most the store's lock timeout.
        """
        ...

    def history(
        self,
        timeframe: str | None = None,
        version: int | None = None,
        limit: int | None = None,
    ) -> list[StageChange]:
        """Recorded changes, oldest first; with ``limit``, only the most recent ones."""
        ...


class MetricsStore(Protocol):
    """The metrics role: each version's metrics (recorded through ``transact``)."""

    def metrics(self, timeframe: str, version: int) -> Metrics:
        """A version's metrics, by name (empty if none or if it does not exist)."""
        ...


class ApprovalStore(Protocol):
    """The approvals role: requests and their approvals (kept through ``transact``)."""

    def requests(self, timeframe: str | None = None) -> list[ApprovalRequest]:
        """Approval requests in every state, of one timeframe or all, oldest first."""
        ...


class PolicyStore(Protocol):
    """The policies role: the documents in force, and their own history."""

    def policies(self) -> dict[str | None, Mapping[str, Any]]:
        """The policy documents in force: the default under ``None``, and each timeframe's
        own under its name."""
        ...

    def set_policy(self, change: PolicyChange) -> None:
        """Replace the document of ``change.timeframe`` (the default if ``None``) and append
        the change to the policy's history, atomically."""
        ...

    def policy_history(self) -> list[PolicyChange]:
        """Every policy change, oldest first."""
        ...


class CursorStore(Protocol):
    """The cursors role: how far each event sink has received the stream."""

    def delivered(self, sink: str) -> str | None:
        """The event cursor up to which ``sink`` has received the stream, or ``None``."""
        ...

    def mark_delivered(self, sink: str, cursor: str) -> None:
        """Record that ``sink`` has received the stream up to ``cursor``."""
        ...


class IdentityStore(Protocol):
    """The identity role: who the store authenticated, if it authenticates anyone."""

    def identity(self) -> Identity | None:
        """Who the store authenticated this connection as, a verified ``Identity``
        (PostgreSQL's ``session_user``, the user an MLflow server authenticated), or
        ``None`` where it authenticates nobody. The same on every call."""
        ...


class TokenStore(Protocol):
    """The tokens role: the console's API tokens, as digests (never the tokens)."""

    def tokens(self) -> list[ApiToken]:
        """Every token, revoked ones too, oldest first."""
        ...

    def keep_token(self, token: ApiToken) -> None:
        """Add ``token``, or replace the one of the same id (a revocation)."""
        ...


class ModelStore(
    VersionStore,
    MetricsStore,
    ApprovalStore,
    PolicyStore,
    CursorStore,
    IdentityStore,
    TokenStore,
    Protocol,
):
    """A whole store: every role, and its connections to release. Each role has its own
    contract test class in ``stagekeeper.testing``; ``RegistryContract`` runs them all."""

    def close(self) -> None:
        """Release connections; the store is not used afterwards."""
        ...


@runtime_checkable
class SchemaManaged(Protocol):
    """A store whose schema is versioned and can be upgraded in place."""

    def upgrade_schema(self) -> str:
        """Bring the schema to the code's version; return that version."""
        ...


@runtime_checkable
class AccessManaged(Protocol):
    """A store whose logins the database itself holds to rules (PostgreSQL's roles)."""

    def enforce_roles(self) -> None:
        """Create the groups, grant their privileges, turn the rules on (the owner only)."""
        ...

    def roles_enforced(self) -> bool:
        """Whether the rules are on."""
        ...

    def grant(self, login: str, group: str) -> None:
        """Make ``login`` a member of ``group`` (viewer, promoter, approver, admin)."""
        ...

    def revoke(self, login: str, group: str) -> None:
        """Take ``login`` out of ``group``."""
        ...

    def members(self) -> list[tuple[str, str]]:
        """Each login and the group it is a member of, by login."""
        ...


@dataclass(frozen=True)
class TimeframeSummary:
    """What an overview shows of a timeframe: its champion and the change that crowned it,
    its newest versions in beta (and how many there are), their and the champion's
    metrics, and its last change."""

    timeframe: str
    champion: ModelVersion | None
    crowning: StageChange | None
    betas: list[ModelVersion]
    beta_count: int
    metrics: Mapping[int, Metrics]
    last: StageChange | None


@runtime_checkable
class Summarizing(Protocol):
    """A store that reads every timeframe's summary in a few queries, whatever its size
    (the console's overview); others are read timeframe by timeframe."""

    def summaries(self, newest_betas: int) -> list[TimeframeSummary]:
        """Every timeframe's summary, by timeframe, with its ``newest_betas`` newest betas."""
        ...


@runtime_checkable
class SelfRepairing(Protocol):
    """A store whose own representation can disagree with itself (MLflow: alias vs tags)."""

    def examine(self, timeframe: str | None, *, fix: bool) -> list[Finding]:
        """Disagreements in the store's representation, each timeframe read under its write
        lock, as writers take it, and with ``fix`` repaired in the same locked step. A lock
        held past the wait is reported as ``operation-in-progress``, never repaired."""
        ...


@runtime_checkable
class ChangeNotifying(Protocol):
    """A store that can tell a reader when its history may have grown (PostgreSQL's
    LISTEN/NOTIFY), so that a follower need not poll."""

    def wait_for_changes(self, timeout: float) -> bool:
        """Wait at most ``timeout`` seconds for a commit that added history; whether one
        came (``False`` may also mean the wait ran out)."""
        ...


StoreFactory = Callable[[str, StoreOptions], ModelStore]

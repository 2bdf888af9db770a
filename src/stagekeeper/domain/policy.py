"""Promotion policies: the gates a move must pass, and their verdict on the evidence.

A policy is a document of sections, one per target stage (``beta``, ``champion``,
``archived``) and one for ``rollback``; the store keeps a default document and, for any
timeframe, one of its own whose sections replace the default's. Everything here is pure:
the service reads the documents and the evidence (metrics, the champion's metrics, when the
version entered its stage) from the store, and ``evaluate`` gives the verdict. Imports only
the standard library and the domain.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from stagekeeper.domain.approvals import DEFAULT_EXPIRY
from stagekeeper.domain.conditions import Condition, GateResult
from stagekeeper.domain.durations import canonical_duration, duration, shown_duration
from stagekeeper.domain.errors import ValidationError
from stagekeeper.domain.model import Metrics
from stagekeeper.domain.stages import Stage

GATED_STAGES = (Stage.BETA, Stage.CHAMPION, Stage.ARCHIVED)
ROLLBACK = "rollback"
# The gate a move waits on rather than fails: promote records a request instead.
APPROVALS_GATE = "approvals"
_STAGE_KEYS = frozenset(
    {
        "require_reason", "require", "soak", "approvals", "expires", "allow_force",
        "approvals_identity", "protected_by",
    }
)  # fmt: skip
# The groups a protected stage may name (PostgreSQL's roles, ``stagekeeper db grant``).
GROUPS = ("viewer", "promoter", "approver", "admin")
APPROVAL_IDENTITIES = ("declared", "verified")
_ROLLBACK_KEYS = frozenset({"gates"})


@dataclass(frozen=True)
class StageGates:
    """The gates of one target stage."""

    require_reason: bool = False
    require: tuple[Condition, ...] = ()
    soak: timedelta | None = None
    approvals: int = 0
    expires: timedelta = DEFAULT_EXPIRY  # how long an approval request stays open
    allow_force: bool = True
    # Whether approvals count only from identities the store verified ("verified").
    verified_approvals: bool = False
    # The group whose logins alone may move a version into the stage (the database checks).
    protected_by: str | None = None

    @property
    def is_open(self) -> bool:
        """No gate at all: every move to the stage passes, on no evidence."""
        return not (self.require_reason or self.require or self.soak is not None or self.approvals)


# The gates of a stage that the policy does not name; one, since every promotion asks.
OPEN = StageGates()


@dataclass(frozen=True)
class Evidence:
    """What the gates judge, read by the service under the timeframe's lock."""

    metrics: Metrics
    champion: int | None  # the champion to beat (not the candidate itself), or None
    champion_metrics: Metrics
    stage: Stage  # where the candidate stands now
    in_stage_since: datetime | None  # when it got there, from the history
    reason: str | None
    now: datetime
    champion_reigns: bool = True  # False: ``champion`` is the last one, archived since


@dataclass(frozen=True)
class PolicyChange:
    """One entry of the policy's own history: a scope's document replaced."""

    operation_id: str
    timeframe: str | None  # None: the default, for every timeframe without its own
    document: Mapping[str, Mapping[str, Any]]
    actor: str
    at: datetime
    reason: str | None


@dataclass(frozen=True)
class Policy:
    """A parsed policy document; ``document`` is its canonical form, as stored."""

    document: Mapping[str, Mapping[str, Any]]
    stages: Mapping[Stage, StageGates]
    rollback_gates: bool = False

    def gates(self, stage: Stage) -> StageGates:
        return self.stages.get(stage, OPEN)

    @property
    def verifies_approvals(self) -> bool:
        """Whether any stage counts only verified approvals."""
        return any(gates.verified_approvals for gates in self.stages.values())

    @property
    def protects_stages(self) -> bool:
        """Whether any stage names the group that may move versions into it."""
        return any(gates.protected_by for gates in self.stages.values())

    def evaluate(
        self, target: Stage, evidence: Evidence, *, rollback: bool = False
    ) -> list[GateResult]:
        """Every gate of ``target``; a rollback skips the metric and soak gates unless the
        policy's ``[rollback] gates = true`` says otherwise, and never waits for approvals:
        rollback is the emergency exit. The approvals gate, if the stage has one, is
        listed as not yet passed: approvals come after the request."""
        gates = self.gates(target)
        results = []
        if gates.require_reason:
            given = bool(evidence.reason and evidence.reason.strip())
            results.append(GateResult("reason", given, "given" if given else "none", "a reason"))
        if not rollback or self.rollback_gates:
            results.extend(
                condition.judge(
                    evidence.metrics,
                    evidence.champion,
                    evidence.champion_metrics,
                    evidence.champion_reigns,
                )
                for condition in gates.require
            )
            if gates.soak is not None:
                results.append(_soak(gates.soak, evidence))
        if gates.approvals and not rollback:
            results.append(
                GateResult(
                    APPROVALS_GATE,
                    False,
                    "none yet",
                    f"{gates.approvals} from someone other than the requester",
                )
            )
        return results


def parse(document: object) -> Policy:
    """A policy from its document (TOML read into a dict, or JSON); ``ValidationError``
    names the first thing wrong."""
    if not isinstance(document, Mapping):
        raise ValidationError("invalid policy: expected a table of sections")
    stages: dict[Stage, StageGates] = {}
    canonical: dict[str, dict[str, Any]] = {}
    rollback_gates = False
    for key, section in document.items():
        if not isinstance(section, Mapping):
            raise ValidationError(f"invalid policy: [{key}] must be a table")
        if key == ROLLBACK:
            _known_keys(key, section, _ROLLBACK_KEYS)
            rollback_gates = _flag(key, "gates", section.get("gates", False))
            canonical[key] = {"gates": rollback_gates}
            continue
        stage = _gated_stage(key)
        stages[stage] = _stage_gates(key, section)
        canonical[key] = _stage_document(stages[stage])
    return Policy(canonical, stages, rollback_gates)


def effective(default: Mapping[str, Any] | None, own: Mapping[str, Any] | None) -> Policy:
    """A timeframe's policy: its own sections, and the default's for the others."""
    if not default and not own:
        return NO_POLICY  # every promotion asks; most stores have no policy at all
    return parse({**(default or {}), **(own or {})})


NO_POLICY = parse({})  # a policy without gates: what a store without a policy has


def _soak(required: timedelta, evidence: Evidence) -> GateResult:
    gate = f"soak in {evidence.stage.value}"
    wanted = f">= {shown_duration(required)}"
    if evidence.in_stage_since is None:
        return GateResult(gate, False, "no record of when it got there", wanted)
    stood = evidence.now - evidence.in_stage_since
    return GateResult(gate, stood >= required, shown_duration(stood), wanted)


def _gated_stage(key: object) -> Stage:
    names = ", ".join([*(s.value for s in GATED_STAGES), ROLLBACK])
    try:
        stage = Stage.parse(key) if isinstance(key, str) and key == key.strip().lower() else None
    except ValidationError:
        stage = None
    if stage not in GATED_STAGES:
        raise ValidationError(f"invalid policy: unknown section [{key}]; expected one of {names}")
    assert stage is not None
    return stage


def _stage_gates(key: str, section: Mapping[str, Any]) -> StageGates:
    _known_keys(key, section, _STAGE_KEYS)
    require = section.get("require", [])
    if not isinstance(require, list):
        raise ValidationError(f"invalid policy: [{key}] require must be a list of conditions")
    approvals = section.get("approvals", 0)
    if isinstance(approvals, bool) or not isinstance(approvals, int) or not 0 <= approvals <= 10:
        raise ValidationError(
            f"invalid policy: [{key}] approvals must be a whole number from 0 to 10"
        )
    soak = section.get("soak")
    expires = section.get("expires")
    return StageGates(
        require_reason=_flag(key, "require_reason", section.get("require_reason", False)),
        require=tuple(Condition.parse(text) for text in require),
        soak=None if soak is None else duration(soak, f"[{key}] soak"),
        approvals=approvals,
        expires=(
            DEFAULT_EXPIRY
            if expires is None
            else duration(expires, f"[{key}] expires", zero_allowed=False)
        ),
        allow_force=_flag(key, "allow_force", section.get("allow_force", True)),
        verified_approvals=_approval_identity(key, section.get("approvals_identity")),
        protected_by=_group(key, section.get("protected_by")),
    )


def _group(key: str, value: object) -> str | None:
    if value is None or value in GROUPS:
        return None if value is None else str(value)
    raise ValidationError(
        f"invalid policy: [{key}] protected_by must be one of {', '.join(GROUPS)}, got {value!r}"
    )


def _approval_identity(key: str, value: object) -> bool:
    if value is None or value in APPROVAL_IDENTITIES:
        return value == "verified"
    raise ValidationError(
        f"invalid policy: [{key}] approvals_identity must be one of "
        f"{', '.join(APPROVAL_IDENTITIES)}, got {value!r}"
    )


def _stage_document(gates: StageGates) -> dict[str, Any]:
    document: dict[str, Any] = {
        "require_reason": gates.require_reason,
        "require": [condition.text for condition in gates.require],
        "approvals": gates.approvals,
        "expires": canonical_duration(gates.expires),
        "allow_force": gates.allow_force,
    }
    if gates.verified_approvals:
        document["approvals_identity"] = "verified"
    if gates.protected_by is not None:
        document["protected_by"] = gates.protected_by
    if gates.soak is not None:
        document["soak"] = canonical_duration(gates.soak)
    return document


def _known_keys(key: str, section: Mapping[str, Any], known: frozenset[str]) -> None:
    unknown = sorted(set(section) - known)
    if unknown:
        raise ValidationError(
            f"invalid policy: unknown key {unknown[0]!r} in [{key}]; expected "
            + ", ".join(sorted(known))
        )


def _flag(key: str, name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise ValidationError(f"invalid policy: [{key}] {name} must be true or false")
    return value

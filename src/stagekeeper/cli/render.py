"""Turning domain objects into JSON-ready data and into rich tables for people.

The JSON shapes are a public contract (see the README); change them with care.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from stagekeeper.cli.tables import Grid, filled
from stagekeeper.domain.stages import Stage

if TYPE_CHECKING:  # rich is imported when there is something to draw, not before
    from stagekeeper.domain.approvals import ApprovalRequest
    from stagekeeper.domain.conditions import GateResult
    from stagekeeper.domain.identity import Identity
    from stagekeeper.domain.model import Finding, ModelVersion, StageChange, TimeframeStatus
    from stagekeeper.domain.policy import PolicyChange
    from stagekeeper.domain.timeline import Reign

Data = dict[str, Any]
Edge = tuple[Stage, Stage, bool]  # source, target, rollback only


def timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def version_data(version: ModelVersion) -> Data:
    return {
        "timeframe": version.timeframe,
        "model_name": version.model_name,
        "version": version.version,
        "stage": version.stage.value,
        "created_at": timestamp(version.created_at),
        "updated_at": timestamp(version.updated_at),
        "source": version.source,
    }


def change_data(change: StageChange) -> Data:
    return {
        "operation_id": change.operation_id,
        "timeframe": change.timeframe,
        "model_name": change.model_name,
        "version": change.version,
        "from_stage": None if change.from_stage is None else change.from_stage.value,
        "to_stage": change.to_stage.value,
        "reason": change.reason,
        "actor": change.actor,
        "identity": identity_data(change.who),
        "at": timestamp(change.at),
        "cause": change.cause.value,
        "detail": change.detail,
    }


def identity_data(identity: Identity) -> Data:
    return {"name": identity.name, "verified": identity.verified, "source": identity.source}


def gates_data(results: Sequence[GateResult]) -> Data:
    return {
        "allowed": allowed(results),
        "gates": [
            {"gate": r.gate, "passed": r.passed, "found": r.found, "required": r.required}
            for r in results
        ],
    }


def allowed(results: Sequence[GateResult]) -> bool:
    return all(result.passed for result in results)


def metrics_data(version: ModelVersion, metrics: Mapping[str, float]) -> Data:
    return {
        "timeframe": version.timeframe,
        "model_name": version.model_name,
        "version": version.version,
        "metrics": dict(sorted(metrics.items())),
    }


def request_data(request: ApprovalRequest) -> Data:
    return {
        "id": request.id,
        "timeframe": request.timeframe,
        "model_name": request.model_name,
        "version": request.version,
        "from_stage": request.from_stage.value,
        "target_stage": request.target.value,
        "state": request.state.value,
        "requester": request.requester,
        "identity": request.identity,
        "reason": request.reason,
        "requested_at": timestamp(request.requested_at),
        "expires_at": timestamp(request.expires_at),
        "approvals_needed": request.needed,
        "approvals": [
            {"actor": a.actor, "identity": a.identity, "at": timestamp(a.at), "reason": a.reason}
            for a in request.approvals
        ],
    }


def label(version: int) -> str:
    """A version as every table and message shows it to a person: ``v3`` (flags and
    --json take and give the bare number)."""
    return f"v{version}"


def requests_table(requests: Iterable[ApprovalRequest]) -> Grid:
    return filled(
        ("request", "version", "move", "state", "approvals", "requester", "expires (UTC)",
         "reason"),
        [(r.id, named(r.timeframe, r.version), move(r.from_stage, r.target), r.state.value,
          f"{len(r.approvals)} of {r.needed}", r.requester, short_time(r.expires_at),
          r.reason or "")
         for r in requests],
        text=("requester", "reason"), staged=("move",),
    )  # fmt: skip


def reign_data(reign: Reign) -> Data:
    return {
        "timeframe": reign.timeframe,
        "model_name": reign.model_name,
        "version": reign.version,
        "start": timestamp(reign.start),
        "end": None if reign.end is None else timestamp(reign.end),
        "began": reign.began,
        "ended": reign.ended,
        "ended_by": reign.ended_by,
        "ended_by_identity": (
            None if reign.ended_identity is None else identity_data(reign.ended_identity)
        ),
        "successor": reign.successor,
    }


def reigns_table(reigns: Iterable[Reign], now: datetime) -> Grid:
    rows = []
    for r in reigns:
        days = ((r.end or max(now, r.start)) - r.start).total_seconds() / 86_400
        ended = r.ended or "reigns"
        if r.ended_by is not None:
            who = r.ended_identity
            ended += f" by {r.ended_by}" + (f" ({who.shown()})" if who and who.verified else "")
        if r.successor is not None:
            ended += f" (for {label(r.successor)})"
        end = short_time(r.end) if r.end else "now"
        rows.append(
            (r.timeframe, label(r.version), short_time(r.start), end, f"{days:.1f}", r.began, ended)
        )
    return filled(
        ("timeframe", "champion", "from (UTC)", "to (UTC)", "days", "began", "ended"),
        rows,
        text=("began", "ended"),
    )


def reigns_mermaid(reigns: Sequence[Reign], now: datetime) -> str:
    """A Mermaid gantt chart: a section per timeframe, a bar per reign."""
    ends = [r.end or max(now, r.start) for r in reigns]
    span = (max(ends) - min(r.start for r in reigns)).total_seconds() if reigns else 0.0
    lines = ["gantt", "    title Champions (UTC)", "    dateFormat YYYY-MM-DD HH:mm:ss",
             f"    axisFormat {axis_format(span)}"]  # fmt: skip
    for timeframe in sorted({r.timeframe for r in reigns}):
        lines.append(f"    section {timeframe}")
        for r in (r for r in reigns if r.timeframe == timeframe):
            state = "active" if r.end is None else "done"
            lines.append(
                f"    {label(r.version)} {r.began} :{state}, {short_time(r.start)}, "
                f"{short_time(r.end or max(now, r.start))}"
            )
    return "\n".join(lines) + "\n"


def axis_format(seconds: float) -> str:
    """A time axis's tick format for a span of ``seconds``: the clock within an hour or a
    day, the day within months, the month within years, else the year."""
    for longest, shown in ((3_600, "%H:%M:%S"), (2 * 86_400, "%H:%M"), (120 * 86_400, "%b %d"),
                           (3 * 365 * 86_400, "%Y-%m")):  # fmt: skip
        if seconds < longest:
            return shown
    return "%Y"


def policy_change_data(change: PolicyChange) -> Data:
    return {
        "operation_id": change.operation_id,
        "timeframe": change.timeframe,
        "document": change.document,
        "actor": change.actor,
        "at": timestamp(change.at),
        "reason": change.reason,
    }


def findings_data(findings: Sequence[Finding]) -> Data:
    return {
        "healthy": healthy(findings),
        "findings": [
            {
                "timeframe": f.timeframe,
                "version": f.version,
                "code": f.code,
                "message": f.message,
                "remedy": f.remedy or None,
                "fixed": f.fixed,
            }
            for f in findings
        ],
    }


def healthy(findings: Sequence[Finding]) -> bool:
    """Nothing left unrepaired."""
    return all(finding.fixed for finding in findings)


def moves_data(edges: Sequence[Edge], mermaid: str) -> Data:
    return {
        "moves": [{"from": s.value, "to": t.value, "rollback_only": r} for s, t, r in edges],
        "mermaid": mermaid,
    }


def status_data(status: TimeframeStatus) -> Data:
    return {
        "timeframe": status.timeframe,
        "model_name": status.model_name,
        "champion": status.champion,
        "counts": {stage.value: count for stage, count in status.counts.items()},
    }


def versions_table(
    versions: Sequence[ModelVersion], metrics: Sequence[Mapping[str, float]] | None = None
) -> Grid:
    """The versions, and with ``metrics`` (each version's, in order) a column per metric."""
    names = sorted({name for found in metrics or () for name in found})
    return filled(
        ("version", "model", "stage", "updated (UTC)", "source", *names),
        [(named(v.timeframe, v.version), v.model_name, v.stage.value, short_time(v.updated_at),
          v.source or "", *(number(metrics[i].get(name)) for name in names if metrics))
         for i, v in enumerate(versions)],
        text=("model", "source"), staged=("stage",),
    )  # fmt: skip


def number(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def changes_table(changes: Iterable[StageChange]) -> Grid:
    return filled(
        ("at (UTC)", "version", "move", "cause", "actor", "reason", "detail"),
        [(short_time(c.at), named(c.timeframe, c.version), move(c.from_stage, c.to_stage),
          c.cause.value, actor_shown(c), c.reason or "", c.detail or "")
         for c in changes],
        text=("actor", "reason"), words=("detail",), staged=("move",),
    )  # fmt: skip


def actor_shown(change: StageChange) -> str:
    """The declared actor, and beside it the login a system verified (marked ✓)."""
    who = change.who
    if not who.verified:
        return change.actor
    return f"{change.actor} ({who.shown()})" if who.name != change.actor else who.shown()


def gates_table(results: Iterable[GateResult]) -> Grid:
    return filled(
        ("gate", "result", "found", "required"),
        [(r.gate, "pass" if r.passed else "FAIL", r.found, r.required) for r in results],
        text=("found", "required"),
    )


def metrics_table(metrics: Mapping[str, float]) -> Grid:
    return filled(("metric", "value"), [(n, f"{v:g}") for n, v in sorted(metrics.items())])


def policy_changes_table(changes: Iterable[PolicyChange]) -> Grid:
    return filled(
        ("at (UTC)", "scope", "actor", "reason", "operation"),
        [(short_time(c.at), "default" if c.timeframe is None else c.timeframe, c.actor,
          c.reason or "", c.operation_id)
         for c in changes],
        text=("actor", "reason"),
    )  # fmt: skip


def status_table(statuses: Iterable[TimeframeStatus]) -> Grid:
    # The champion column names the version; the other stages are counted.
    counted = [stage for stage in Stage if stage is not Stage.CHAMPION]
    return filled(
        ("timeframe", "model", "champion", *(f"# {stage.value}" for stage in counted)),
        [(s.timeframe, s.model_name, "-" if s.champion is None else label(s.champion),
          *(str(s.counts[stage]) for stage in counted))
         for s in statuses],
        text=("model",),
    )  # fmt: skip


def findings_table(findings: Iterable[Finding]) -> Grid:
    return filled(
        ("timeframe", "version", "problem", "fix", "fixed"),
        [(f.timeframe, "-" if f.version is None else label(f.version), f.message,
          f.remedy or "needs a person", "yes" if f.fixed else "no")
         for f in findings],
        text=("problem", "fix"),
    )  # fmt: skip


def moves_table(edges: Iterable[Edge]) -> Grid:
    return filled(
        ("from", "to", "how"),
        [(s.value, t.value, "rollback only" if r else "promote") for s, t, r in edges],
        staged=("from", "to"),
    )


def named(timeframe: str, version: int) -> str:
    """A version with its timeframe, as a table row names it: ``1H v3``."""
    return f"{timeframe} {label(version)}"


def move(source: Stage | None, target: Stage) -> str:
    return f"{'-' if source is None else source.value} → {target.value}"


def short_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")

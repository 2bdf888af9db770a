"""Turning domain objects into JSON-ready data and into rich tables for people.

The JSON shapes are a public contract (see the README); change them with care.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from stagekeeper.domain.stages import Stage

if TYPE_CHECKING:  # rich is imported when there is something to draw, not before
    from rich.console import Console
    from rich.table import Table

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


def requests_table(requests: Iterable[ApprovalRequest]) -> Table:
    return filled_table(
        ("request", "timeframe", "version", "move", "state", "approvals", "requester",
         "expires (UTC)", "reason"),
        [(r.id, r.timeframe, label(r.version), f"{r.from_stage.value} -> {r.target.value}",
          r.state.value, f"{len(r.approvals)} of {r.needed}", r.requester,
          _short(r.expires_at), r.reason or "")
         for r in requests],
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


def reigns_table(reigns: Iterable[Reign], now: datetime) -> Table:
    table = new_table("timeframe", "champion", "from (UTC)", "to (UTC)", "days", "began", "ended")
    for r in reigns:
        days = ((r.end or max(now, r.start)) - r.start).total_seconds() / 86_400
        ended = r.ended or "reigns"
        if r.ended_by is not None:
            who = r.ended_identity
            ended += f" by {r.ended_by}" + (f" ({who.shown()})" if who and who.verified else "")
        if r.successor is not None:
            ended += f" (for {label(r.successor)})"
        end = _short(r.end) if r.end else "now"
        table.add_row(
            r.timeframe, label(r.version), _short(r.start), end, f"{days:.1f}", r.began, ended
        )
    return table


def reigns_mermaid(reigns: Sequence[Reign], now: datetime) -> str:
    """A Mermaid gantt chart: a section per timeframe, a bar per reign."""
    lines = ["gantt", "    title Champions", "    dateFormat YYYY-MM-DD HH:mm:ss",
             "    axisFormat %Y-%m-%d"]  # fmt: skip
    for timeframe in sorted({r.timeframe for r in reigns}):
        lines.append(f"    section {timeframe}")
        for r in (r for r in reigns if r.timeframe == timeframe):
            state = "active" if r.end is None else "done"
            lines.append(
                f"    {label(r.version)} {r.began} :{state}, {_short(r.start)}, "
                f"{_short(r.end or max(now, r.start))}"
            )
    return "\n".join(lines) + "\n"


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


def versions_table(versions: Iterable[ModelVersion]) -> Table:
    return filled_table(
        ("timeframe", "model", "version", "stage", "updated (UTC)", "source"),
        [(v.timeframe, v.model_name, label(v.version), v.stage.value, _short(v.updated_at),
          v.source or "")
         for v in versions],
    )  # fmt: skip


def changes_table(changes: Iterable[StageChange]) -> Table:
    return filled_table(
        ("at (UTC)", "timeframe", "version", "from", "to", "cause", "actor", "reason", "detail"),
        [(_short(c.at), c.timeframe, label(c.version),
          c.from_stage.value if c.from_stage else "-", c.to_stage.value, c.cause.value,
          actor_shown(c), c.reason or "", c.detail or "")
         for c in changes],
    )  # fmt: skip


def actor_shown(change: StageChange) -> str:
    """The declared actor, and beside it the login a system verified (marked ✓)."""
    who = change.who
    if not who.verified:
        return change.actor
    return f"{change.actor} ({who.shown()})" if who.name != change.actor else who.shown()


def gates_table(results: Iterable[GateResult]) -> Table:
    table = new_table("gate", "result", "found", "required")
    for r in results:
        table.add_row(r.gate, "pass" if r.passed else "FAIL", r.found, r.required)
    return table


def metrics_table(metrics: Mapping[str, float]) -> Table:
    table = new_table("metric", "value")
    for name, value in sorted(metrics.items()):
        table.add_row(name, f"{value:g}")
    return table


def policy_changes_table(changes: Iterable[PolicyChange]) -> Table:
    table = new_table("at (UTC)", "scope", "actor", "reason", "operation")
    for c in changes:
        scope = "default" if c.timeframe is None else c.timeframe
        table.add_row(_short(c.at), scope, c.actor, c.reason or "", c.operation_id)
    return table


def status_table(statuses: Iterable[TimeframeStatus]) -> Table:
    # The champion column names the version; the other stages are counted.
    counted = [stage for stage in Stage if stage is not Stage.CHAMPION]
    table = new_table("timeframe", "model", "champion", *(f"# {stage.value}" for stage in counted))
    for s in statuses:
        champion = "-" if s.champion is None else label(s.champion)
        table.add_row(s.timeframe, s.model_name, champion, *(str(s.counts[st]) for st in counted))
    return table


def findings_table(findings: Iterable[Finding]) -> Table:
    table = new_table("timeframe", "version", "problem", "fix", "fixed")
    for f in findings:
        version = "-" if f.version is None else label(f.version)
        remedy = f.remedy or "needs a person"
        table.add_row(f.timeframe, version, f.message, remedy, "yes" if f.fixed else "no")
    return table


def moves_table(edges: Iterable[Edge]) -> Table:
    table = new_table("from", "to", "how")
    for source, target, rollback_only in edges:
        table.add_row(source.value, target.value, "rollback only" if rollback_only else "promote")
    return table


def show_empty_or(console: Console, table: Table, empty: str) -> None:
    console.print(table if table.row_count else empty)


def _short(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def filled_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> Table:
    """A table of ``rows`` without the columns no row fills (an empty reason or detail
    column only takes width from the ones that say something)."""
    kept = [i for i in range(len(headers)) if not rows or any(row[i] for row in rows)]
    table = new_table(*(headers[i] for i in kept))
    for row in rows:
        table.add_row(*(row[i] for i in kept))
    return table


def new_table(*columns: str) -> Table:
    from rich.table import Table

    return Table(*columns)

"""``stagekeeper doctor``: find, and with ``--fix`` repair, disagreements in the store."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from stagekeeper.cli import options
from stagekeeper.cli.session import command_session
from stagekeeper.model import Finding


def doctor(
    timeframe: options.OptionalTimeframe = None,
    fix: Annotated[bool, options.flag("--fix", "Repair what can be repaired.")] = False,
    store: options.Store = None,
    actor: options.Actor = None,
    json_output: options.Json = False,
) -> None:
    """Check the store for disagreements; exit 1 while any remains unrepaired."""
    with command_session(json_output) as session:
        findings = session.open(store, actor, writes=fix).doctor(timeframe, fix=fix)
        session.emit(
            {"healthy": _healthy(findings), "findings": [_data(f) for f in findings]},
            lambda console: _show(console, findings),
        )
    if not _healthy(findings):
        raise typer.Exit(1)


def _healthy(findings: list[Finding]) -> bool:
    return all(finding.fixed for finding in findings)


def _data(finding: Finding) -> dict[str, object]:
    return {
        "timeframe": finding.timeframe,
        "version": finding.version,
        "code": finding.code,
        "message": finding.message,
        "remedy": finding.remedy or None,
        "fixed": finding.fixed,
    }


def _show(console: Console, findings: list[Finding]) -> None:
    if not findings:
        console.print("No problems found.")
        return
    table = Table("timeframe", "version", "problem", "fix", "fixed")
    for f in findings:
        version = "-" if f.version is None else str(f.version)
        remedy = f.remedy or "needs a person"
        table.add_row(f.timeframe, version, f.message, remedy, "yes" if f.fixed else "no")
    console.print(table)

"""Metrics on versions: recorded through the write path, each replaced value a change in
the history, never a silent overwrite. Imports the domain and the ports.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from stagekeeper.domain import validation
from stagekeeper.domain.errors import ValidationError
from stagekeeper.domain.model import Plan, StageChange, metrics_detail
from stagekeeper.domain.stages import Cause
from stagekeeper.service.ports import Planned, TimeframeView
from stagekeeper.service.writing import WritePath, changes


def set_metrics(
    path: WritePath,
    timeframe: str,
    version: int | str,
    metrics: Mapping[str, float | str],
    *,
    reason: str | None = None,
    actor: str | None = None,
) -> list[StageChange]:
    """See ``Registry.set_metrics``."""
    timeframe = validation.timeframe(timeframe)
    number = validation.version(version)
    values = validation.metrics(metrics)
    if not values:
        raise ValidationError("no metrics given: name at least one, e.g. sharpe=1.42")
    reason = validation.reason(reason)
    actor = None if actor is None else validation.actor(actor)

    def plan(view: TimeframeView) -> Plan | None:
        current = path.existing(view, number)
        recorded = view.metrics(number)
        new = {name: value for name, value in values.items() if recorded.get(name) != value}
        if not new:
            return None
        context = path.context(reason, actor)
        change = dataclasses.replace(
            context.change(current, current.stage, Cause.METRICS),
            detail=metrics_detail(new, recorded),
        )
        return Plan(timeframe, None, (change,), records_only=True, metrics={number: new})

    return changes(path.commit(Planned(timeframe, plan)))

"""One version at a glance: what ``stagekeeper show`` prints and the console's review page
shows. Its stage and source, its metrics beside the champion's, the gates each move it could
make would face now, its requests and its own history. Reads only; imports the domain, the
ports and the use cases it asks (``promotion.check``, ``approvals.requests``).
"""

from __future__ import annotations

from dataclasses import dataclass

from stagekeeper.domain.approvals import ApprovalRequest
from stagekeeper.domain.conditions import GateResult
from stagekeeper.domain.model import ModelVersion, StageChange
from stagekeeper.domain.stages import Stage
from stagekeeper.service import approvals, promotion, reading
from stagekeeper.service.writing import WritePath


@dataclass(frozen=True)
class ComparedMetric:
    name: str
    value: float | None  # the version's
    champion: float | None  # the champion's, when there is one and it has the metric

    @property
    def difference(self) -> float | None:
        return None if self.value is None or self.champion is None else self.value - self.champion


@dataclass(frozen=True)
class Review:
    version: ModelVersion
    champion: ModelVersion | None
    metrics: list[ComparedMetric]
    moves: list[tuple[Stage, list[GateResult]]]  # each move the lifecycle allows, its gates
    requests: list[ApprovalRequest]  # this version's, open or closed, oldest first
    history: list[StageChange]


def review(path: WritePath, timeframe: str, version: int | str) -> Review:
    """See ``Registry.review``."""
    from stagekeeper.domain.lifecycle import allowed_targets  # transitions, for this alone

    found = reading.get(path.store, path.options, timeframe, version)
    champion = path.store.champion(found.timeframe)
    mine = path.store.metrics(found.timeframe, found.version)
    theirs = (  # the champion's, beside another version's
        path.store.metrics(found.timeframe, champion.version)
        if champion is not None and champion.version != found.version
        else {}
    )
    return Review(
        version=found,
        champion=champion,
        metrics=[
            ComparedMetric(name, mine.get(name), theirs.get(name))
            for name in sorted({*mine, *theirs})
        ],
        moves=[
            (target, promotion.check(path, found.timeframe, found.version, target))
            for target in allowed_targets(found.stage)
        ],
        requests=[
            r
            for r in approvals.requests(path, found.timeframe, pending_only=False)
            if r.version == found.version
        ],
        history=reading.history(path.store, found.timeframe, found.version, None),
    )

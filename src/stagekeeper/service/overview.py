"""Every timeframe's summary, for an overview: read in a few queries where the store can
(``ports.Summarizing``), else timeframe by timeframe through the ordinary reads. Imports
the domain and the ports.
"""

from __future__ import annotations

from stagekeeper.domain.stages import Stage
from stagekeeper.service.ports import ModelStore, Summarizing, TimeframeSummary


def summaries(store: ModelStore, newest_betas: int) -> list[TimeframeSummary]:
    if isinstance(store, Summarizing):
        return store.summaries(newest_betas)
    return [_summary(store, status.timeframe, newest_betas) for status in store.status()]


def _summary(store: ModelStore, timeframe: str, newest_betas: int) -> TimeframeSummary:
    champion = store.champion(timeframe)
    crowned = [] if champion is None else store.history(timeframe, champion.version)
    betas = store.versions(timeframe, Stage.BETA)
    shown = betas[-newest_betas:][::-1] if newest_betas else []
    return TimeframeSummary(
        timeframe=timeframe,
        champion=champion,
        crowning=next((c for c in reversed(crowned) if c.crowns), None),
        betas=shown,
        beta_count=len(betas),
        metrics={v.version: store.metrics(timeframe, v.version)
                 for v in [*shown, *([champion] if champion else [])]},
        last=next(iter(store.history(timeframe, None, 1)), None),
    )  # fmt: skip

"""The champion timeline, folded from hand-made histories."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from stagekeeper.domain.model import StageChange
from stagekeeper.domain.stages import Cause, Stage
from stagekeeper.domain.timeline import Reign, reigns

START = datetime(2026, 1, 1, tzinfo=UTC)
C, A, B, D = Stage.CHAMPION, Stage.ARCHIVED, Stage.BETA, Stage.DEVELOPMENT


def at(day: int) -> datetime:
    return START + timedelta(days=day)


def change(
    day: int, version: int, source: Stage | None, target: Stage, cause: Cause,
    operation: str | None = None, timeframe: str = "1H",
) -> StageChange:  # fmt: skip
    return StageChange(
        operation or f"op{day}-{version}", timeframe, f"{timeframe}_trading_model", version,
        source, target, None, "ana", at(day), cause,
    )  # fmt: skip


def crowning(
    day: int, old: int | None, new: int, cause: Cause = Cause.PROMOTION
) -> list[StageChange]:
    """One operation: the old champion archived (if any), the new one crowned."""
    demotion_cause = Cause.ROLLBACK if cause is Cause.ROLLBACK else Cause.AUTO_DEMOTION
    source = A if cause is Cause.ROLLBACK else B
    demotion = [] if old is None else [change(day, old, C, A, demotion_cause, f"op{day}")]
    return [*demotion, change(day, new, source, C, cause, f"op{day}")]


def test_a_champion_that_still_reigns() -> None:
    history = [change(0, 1, None, D, Cause.REGISTRATION), change(1, 1, D, B, Cause.PROMOTION),
               *crowning(2, None, 1)]  # fmt: skip
    assert reigns(history) == [Reign("1H", "1H_trading_model", 1, at(2), None, "promotion")]
    assert reigns(history)[0].reigning


def test_a_timeframe_with_no_champion_yet_has_no_reign() -> None:
    assert (
        reigns([change(0, 1, None, D, Cause.REGISTRATION), change(1, 1, D, B, Cause.PROMOTION)])
        == []
    )


def test_succession_and_a_rollback() -> None:
    history = [*crowning(1, None, 1), *crowning(3, 1, 2), *crowning(5, 2, 1, Cause.ROLLBACK)]
    assert [
        (r.version, r.start, r.end, r.began, r.ended, r.successor) for r in reigns(history)
    ] == [
        (1, at(1), at(3), "promotion", "auto-demotion", 2),
        (2, at(3), at(5), "promotion", "rollback", 1),
        (1, at(5), None, "rollback", None, None),
    ]


def test_a_forced_crowning_and_a_champion_archived_by_hand() -> None:
    history = [*crowning(1, None, 1, Cause.FORCED), change(4, 1, C, A, Cause.PROMOTION)]
    [reign] = reigns(history)
    assert (reign.began, reign.end, reign.ended, reign.successor) == (
        "forced",
        at(4),
        "archived",
        None,
    )


def test_records_that_move_nothing_are_ignored_and_timeframes_are_apart() -> None:
    metrics = change(2, 1, C, C, Cause.METRICS)
    history = [*crowning(1, None, 1), metrics, change(2, 7, B, C, Cause.PROMOTION, timeframe="4H"),
               *crowning(3, 1, 2)]  # fmt: skip
    found = [(r.timeframe, r.version, r.start, r.end) for r in reigns(history)]
    assert found == [("1H", 1, at(1), at(3)), ("4H", 7, at(2), None), ("1H", 2, at(3), None)]

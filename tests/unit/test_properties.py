"""Property-based tests: random sequences of operations against a plain model.

The model is written independently of the lifecycle module, from the specification, so
a mistake in the machine's table shows up as a disagreement here.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from stagekeeper import Stage, StagekeeperError, open_registry
from stagekeeper.domain.errors import NotFoundError, TransitionError
from stagekeeper.service.registry import Registry

ALLOWED = {
    ("development", "beta"), ("development", "archived"),
    ("beta", "champion"), ("beta", "development"), ("beta", "archived"),
    ("champion", "archived"), ("archived", "beta"),
}  # fmt: skip
TIMEFRAMES = st.sampled_from(["1H", "4H"])
STAGES = st.sampled_from([s.value for s in Stage])
VERSIONS = st.integers(min_value=1, max_value=6)


class RegistryModel(RuleBasedStateMachine):
    """Drives a registry and a dict side by side; they must always agree."""

    open_store: Callable[[], Registry]
    source: str | None = None  # MLflow needs one to register a version

    def __init__(self) -> None:
        super().__init__()
        self.registry = self.open_store()
        self.stages: dict[tuple[str, int], str] = {}
        self.crowned: dict[str, list[int]] = {"1H": [], "4H": []}
        self.changes = 0

    def teardown(self) -> None:
        self.registry.close()

    def champion(self, timeframe: str) -> int | None:
        found = [v for (tf, v), s in self.stages.items() if tf == timeframe and s == "champion"]
        return found[0] if found else None

    @rule(timeframe=TIMEFRAMES)
    def register(self, timeframe: str) -> None:
        version = self.registry.register(timeframe, source=self.source).version
        assert version == 1 + sum(1 for tf, _ in self.stages if tf == timeframe)
        self.stages[(timeframe, version)] = "development"
        self.changes += 1

    @rule(timeframe=TIMEFRAMES, version=VERSIONS, stage=STAGES)
    def promote(self, timeframe: str, version: int, stage: str) -> None:
        target = stage
        current = self.stages.get((timeframe, version))
        try:
            made = self.registry.promote(timeframe, version, target)
        except NotFoundError:
            assert current is None
            return
        except TransitionError:
            assert current is not None and (current, target) not in ALLOWED and current != target
            return
        assert current is not None and (current == target or (current, target) in ALLOWED)
        if target == "champion" and current != target:
            old = self.champion(timeframe)
            if old is not None:
                self.stages[(timeframe, old)] = "archived"
            self.crowned[timeframe].append(version)
        self.stages[(timeframe, version)] = target
        self.changes += len(made)

    @precondition(lambda self: any(self.crowned.values()))
    @rule(timeframe=TIMEFRAMES)
    def rollback(self, timeframe: str) -> None:
        champion = self.champion(timeframe)
        candidates = [
            v
            for v in reversed(self.crowned[timeframe])
            if v != champion and self.stages[(timeframe, v)] == "archived"
        ]
        try:
            made = self.registry.rollback(timeframe)
        except StagekeeperError:
            assert not candidates
            return
        assert candidates and made[-1].version == candidates[0]
        if champion is not None:
            self.stages[(timeframe, champion)] = "archived"
        self.stages[(timeframe, candidates[0])] = "champion"
        self.crowned[timeframe].append(candidates[0])
        self.changes += len(made)

    @invariant()
    def stages_agree(self) -> None:
        found = {(v.timeframe, v.version): v.stage.value for v in self.registry.list()}
        assert found == self.stages

    @invariant()
    def at_most_one_champion_per_timeframe(self) -> None:
        for timeframe in ("1H", "4H"):
            assert len(self.registry.list(timeframe, Stage.CHAMPION)) <= 1

    @invariant()
    def every_change_is_in_the_history(self) -> None:
        assert len(self.registry.history()) == self.changes

    @invariant()
    def the_history_replays_to_the_stages(self) -> None:
        """Folding each version's changes in history order gives its stage, and each change
        starts where the one before it left the version."""
        replayed: dict[tuple[str, int], str] = {}
        for change in self.registry.history():
            key = (change.timeframe, change.version)
            before = None if change.from_stage is None else change.from_stage.value
            assert replayed.get(key) == before, change
            replayed[key] = change.to_stage.value
        assert replayed == self.stages


class MemoryModel(RegistryModel):
    open_store = staticmethod(lambda: open_registry("memory://"))


class SqliteModel(RegistryModel):
    def open_store(self) -> Registry:
        self.folder = Path(tempfile.mkdtemp(prefix="stagekeeper-prop-"))
        return open_registry(f"sqlite:///{self.folder / 'p.db'}")

    def teardown(self) -> None:
        super().teardown()
        shutil.rmtree(self.folder, ignore_errors=True)


TestMemoryAgreesWithTheModel = MemoryModel.TestCase
TestMemoryAgreesWithTheModel.settings = settings(max_examples=150, stateful_step_count=40)
TestSqliteAgreesWithTheModel = SqliteModel.TestCase
TestSqliteAgreesWithTheModel.settings = settings(
    max_examples=15, stateful_step_count=25, deadline=None
)

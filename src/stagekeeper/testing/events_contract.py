"""The contract's part on the event stream: every backend's history read as events that
match the published JSON Schema, resumable from any cursor. ``RegistryContract`` includes
it."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

import jsonschema

from stagekeeper.domain.events import EventType, document, mark_of
from stagekeeper.domain.stages import Stage
from stagekeeper.service.ports import SERVES_MODELS_URIS
from stagekeeper.service.registry import Registry
from stagekeeper.testing.base import ContractBase


@cache
def event_schema(version: int = 2) -> dict[str, Any]:
    schemas = resources.files("stagekeeper.schemas")
    text = schemas.joinpath(f"event-v{version}.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    jsonschema.Draft202012Validator.check_schema(schema)
    return schema


def valid(event: dict[str, Any]) -> dict[str, Any]:
    validator = jsonschema.Draft202012Validator(
        event_schema(), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    validator.validate(event)
    return event


class EventsContract(ContractBase):
    """One event per committed operation, in each timeframe's commit order."""

    def test_every_operation_is_one_event_that_matches_the_schema(self, registry: Registry) -> None:
        first = self._with_champion(registry)
        second = self._with_champion(registry)
        self.new(registry, "4H")
        registry.set_metrics("1H", second.version, {"sharpe": 1.2})
        registry.rollback("1H", reason="live drawdown")
        found = [valid(document(event)) for event in registry.events()]
        one_hour = [e for e in found if e["timeframe"] == "1H"]
        assert [e["type"] for e in one_hour] == [
            "registered", "promoted", "champion_changed",
            "registered", "promoted", "champion_changed",
            "metrics_recorded", "rolled_back",
        ]  # fmt: skip
        assert [e["sequence"] for e in one_hour] == list(range(1, 9))
        assert len({e["id"] for e in found}) == len(found) == 9
        crowned = one_hour[5]
        assert crowned["champion"]["previous"] == first.version
        assert crowned["champion"]["new"] == second.version
        assert crowned["champion"]["source"] == self.source
        assert [c["cause"] for c in crowned["changes"]] == ["auto-demotion", "promotion"]
        restored = one_hour[-1]["champion"]
        assert (restored["previous"], restored["new"]) == (second.version, first.version)
        expected_uri = f"models:/{registry.model_name('1H')}@champion"
        serves = SERVES_MODELS_URIS in registry.store.capabilities
        assert restored["uri"] == (expected_uri if serves else None)

    def test_a_cursor_resumes_exactly_after_its_event(self, registry: Registry) -> None:
        self._with_champion(registry)
        self.new(registry, "4H")
        everything = registry.events()
        for index, event in enumerate(everything):
            rest = registry.events(since=event.cursor)
            assert [e.operation_id for e in rest] == [
                e.operation_id for e in everything[index + 1 :]
            ]
        registry.promote("4H", 1, Stage.BETA)
        [new] = registry.events(since=everything[-1].cursor)
        assert (new.type, new.timeframe, new.sequence) == (EventType.PROMOTED, "4H", 2)

    def test_events_of_one_timeframe(self, registry: Registry) -> None:
        self._with_champion(registry)
        self.new(registry, "4H")
        assert {e.timeframe for e in registry.events("4H")} == {"4H"}
        [event] = registry.events("4H")
        assert event.cursor == f"4H:1@{mark_of(event.operation_id)}"

"""Reading the registry: finding stagekeeper's models and versions, and turning MLflow's
entities into domain objects. Raises MLflow's errors; the store translates them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import TypeVar

from mlflow.entities.model_registry import ModelVersion as MlflowVersion
from mlflow.entities.model_registry import RegisteredModel
from mlflow.exceptions import MlflowException

from stagekeeper.domain.model import ModelVersion, StageChange
from stagekeeper.domain.stages import Stage
from stagekeeper.service.ports import StoreOptions
from stagekeeper_mlflow import mapping
from stagekeeper_mlflow.connection import RegistryClient, is_missing
from stagekeeper_mlflow.history import HistoryLog, LegacyTags
from stagekeeper_mlflow.mapping import CHAMPION_ALIAS, STAGE_TAG

PAGE_SIZE = 1000
Found = TypeVar("Found")


def named(client: RegistryClient, *names: str) -> dict[str, RegisteredModel]:
    """The registered models of these exact names that exist, in one request."""
    listed = ", ".join(mapping.quote(name) for name in names)
    page = client.search_registered_models(f"name IN ({listed})", len(names), None, None)
    return {model.name: model for model in page if model.name in names}


class Lookups:
    """Read-only access to the registered models named by the template."""

    def __init__(self, client: RegistryClient, options: StoreOptions) -> None:
        self.client = client
        self.options = options

    def models(self, timeframe: str | None) -> list[tuple[str, RegisteredModel]]:
        """The registered models stagekeeper manages, with their timeframes."""
        if timeframe is not None:
            model = self.model(self.options.model_name(timeframe))
            return [] if model is None else [(timeframe, model)]
        like, pattern = mapping.template_pattern(self.options.model_name_template)
        found = []
        token = None
        while True:
            page = self.client.search_registered_models(
                f"name LIKE {mapping.quote(like)}", PAGE_SIZE, None, token
            )
            for model in page:
                matched = pattern.fullmatch(model.name)
                if matched:
                    found.append((matched["timeframe"], model))
            token = page.token
            if not token:
                return found

    def model(self, name: str) -> RegisteredModel | None:
        return or_none(lambda: self.client.get_registered_model(name))

    def named(self, *names: str) -> dict[str, RegisteredModel]:
        """The registered models of these exact names that exist, in one request."""
        return named(self.client, *names)

    def versions(
        self, timeframe: str, model: RegisteredModel, stage: Stage | None
    ) -> list[ModelVersion]:
        """A model's versions in ``stage``: the alias for a champion, a tag search else.
        Their ``updated_at`` is read from the history, newest first, as far as they need."""
        holder = champion_of(model)
        if stage is Stage.CHAMPION:
            crowned = self.fetch(model.name, int(holder)) if holder else None
            described = self.described(timeframe, crowned, lambda: model.tags or {})
            return [] if described is None else [described]
        found = [
            raw
            for clause in _stage_clauses(stage)
            for raw in self.search(f"name={mapping.quote(model.name)}{clause}")
            if stage is None or stage_with(raw, holder) is stage
        ]
        log = HistoryLog(self.client, model.name)
        changed = log.last_changes({int(raw.version) for raw in found}, lambda: model.tags or {})
        return [to_version(timeframe, raw, holder, changed) for raw in found]

    def search(self, filter_string: str) -> Iterator[MlflowVersion]:
        """Every version matching the filter, a page per call."""
        token = None
        while True:
            page = self.client.search_model_versions(filter_string, PAGE_SIZE, None, token)
            yield from page
            token = page.token
            if not token:
                return

    def between(self, name: str, first: int, last: int) -> dict[int, MlflowVersion]:
        """The versions numbered ``first`` to ``last`` that exist, in one request."""
        page = self.client.search_model_versions(
            f"name={mapping.quote(name)} AND version_number >= {first} "
            f"AND version_number <= {last}",
            last - first + 1,
            None,
            None,
        )
        return {int(raw.version): raw for raw in page}

    def fetch(self, name: str, version: int) -> MlflowVersion | None:
        return or_none(lambda: self.client.get_model_version(name, str(version)))

    def champion(self, name: str) -> MlflowVersion | None:
        return or_none(lambda: self.client.get_model_version_by_alias(name, CHAMPION_ALIAS))

    def described(
        self, timeframe: str, raw: MlflowVersion | None, legacy: LegacyTags | None = None
    ) -> ModelVersion | None:
        """One version as the domain sees it, its ``updated_at`` read from the history (one
        request). ``legacy`` gives the model's tags, if history older than its own model
        must be read."""
        if raw is None:
            return None
        name, number = raw.name, int(raw.version)
        tags = legacy or (lambda: self.client.get_registered_model(name).tags or {})
        changed = HistoryLog(self.client, name).last_change(number, tags)
        return to_version(timeframe, raw, changed={} if changed is None else {number: changed})


def or_none(call: Callable[[], Found]) -> Found | None:
    """The call's answer, or ``None`` where MLflow says there is no such thing."""
    try:
        return call()
    except MlflowException as exc:
        if is_missing(exc):
            return None
        raise


def to_version(
    timeframe: str,
    raw: MlflowVersion,
    holder: str | None = None,
    changed: Mapping[int, datetime] | None = None,
) -> ModelVersion:
    """The domain's view of an MLflow version. ``holder`` is the alias holder, for search
    results, which carry no aliases; ``changed`` maps versions to their last stage change
    (``mapping.last_changed``), which is their ``updated_at``."""
    aliases = list(raw.aliases or [])
    if holder is not None and str(raw.version) == holder:
        aliases.append(CHAMPION_ALIAS)
    created_at = to_time(raw.creation_timestamp)
    return ModelVersion(
        timeframe=timeframe,
        model_name=raw.name,
        version=int(raw.version),
        stage=mapping.stage_of(raw.tags or {}, aliases),
        created_at=created_at,
        updated_at=(changed or {}).get(int(raw.version), created_at),
        source=raw.source or None,
    )


def stage_with(raw: MlflowVersion, holder: str | None) -> Stage:
    """A search result's stage; search results carry no aliases, so ``holder`` tells."""
    aliases = [CHAMPION_ALIAS] if holder is not None and str(raw.version) == holder else []
    return mapping.stage_of(raw.tags or {}, aliases)


def champion_of(model: RegisteredModel) -> str | None:
    holder = (model.aliases or {}).get(CHAMPION_ALIAS)
    return None if holder is None else str(holder)


def readable_history(timeframe: str, name: str, value: str) -> list[StageChange]:
    try:
        return mapping.decode_history(timeframe, name, value)
    except ValueError:
        return []  # doctor reports it; one torn record must not hide the rest


def to_time(milliseconds: int | None) -> datetime:
    return datetime.fromtimestamp((milliseconds or 0) / 1000, UTC)


def _stage_clauses(stage: Stage | None) -> list[str]:
    """Search clauses that find a stage's versions by their tag, one search each.

    Development includes untagged versions, so it searches them all; archived includes
    versions whose tag still says champion after they lost the alias.
    """
    tag = f"tags.`{STAGE_TAG}`"
    if stage is None or stage is Stage.DEVELOPMENT:
        return [""]
    if stage is Stage.ARCHIVED:
        return [f" AND {tag}='archived'", f" AND {tag}='champion'"]
    return [f" AND {tag}={mapping.quote(stage.value)}"]

"""What the MLflow store keeps besides versions and their history: the policies and each
event sink's delivery cursor, as tags of a registered model of their own
(``mapping.settings_model``), created on first write. Imports the MLflow store's
connection and mapping.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from mlflow.entities.model_registry import RegisteredModel
from mlflow.exceptions import MlflowException

from stagekeeper_mlflow import mapping
from stagekeeper_mlflow.connection import (
    RegistryClient,
    error_code,
    model_missing,
    translated_errors,
)
from stagekeeper_mlflow.lookups import or_none


class Settings:
    def __init__(self, client: RegistryClient, url: str, template: str) -> None:
        self.client, self.url = client, url
        self.name = mapping.settings_model(template)

    def tags(self) -> dict[str, str]:
        """The settings model's tags (none if it does not exist yet)."""
        with translated_errors(self.url):
            model = or_none(lambda: self.client.get_registered_model(self.name))
        return {} if model is None else dict(model.tags or {})

    def set_policy(
        self, key: str, value: str, models: Callable[[], Iterable[RegisteredModel]]
    ) -> None:
        """Write a policy change in three steps (decision record 17): mark the settings
        model, take the no-policy tag away from each of the ``models`` (listed after the
        mark), write the change. Failing in between leaves no policy in force."""
        self.set(mapping.POLICIES_TAG, "models carry no stagekeeper.no-policy")
        for model in models():
            if mapping.policy_free(model.tags or {}):
                self.unmark(model.name)
        self.set(key, value)

    def policies_set(self) -> bool:
        """Whether a policy is set, or being set (``mapping.policies_set``)."""
        return mapping.policies_set(self.tags())

    def check_new_model(self, name: str) -> None:
        """A model just created with the no-policy tag: take it away if a policy is set, or
        being set (its listing may have missed this model)."""
        if self.policies_set():
            self.unmark(name)

    def unmark(self, name: str) -> None:
        or_none(lambda: self.client.delete_registered_model_tag(name, mapping.NO_POLICY_TAG))

    def set(self, key: str, value: str) -> None:
        try:
            self.client.set_registered_model_tag(self.name, key, value)
            return
        except MlflowException as exc:
            if not model_missing(self.client, exc, self.name):
                raise
        try:
            self.client.create_registered_model(self.name)
        except MlflowException as exc:
            if error_code(exc) != "RESOURCE_ALREADY_EXISTS":  # a rival created it first
                raise
        self.client.set_registered_model_tag(self.name, key, value)

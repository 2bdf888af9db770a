"""Evidence on MLflow: a version's metrics are its run's, with stagekeeper's tags over
them, and policies are kept where MLflow users see them."""

from __future__ import annotations

import pytest
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INTERNAL_ERROR
from mlflow.tracking import MlflowClient

from stagekeeper import open_registry
from stagekeeper.domain.errors import BackendError, GateError
from stagekeeper.domain.stages import Stage
from stagekeeper.service.registry import Registry
from stagekeeper_mlflow import doctor
from stagekeeper_mlflow.mapping import FENCED_PREFIX, NO_POLICY_TAG, POLICIES_TAG


def logged_run(client: MlflowClient, **metrics: float) -> str:
    experiment = client.get_experiment_by_name("Default")
    assert experiment is not None
    run = client.create_run(experiment.experiment_id)
    for name, value in metrics.items():
        client.log_metric(run.info.run_id, name, value)
    client.set_terminated(run.info.run_id)
    return str(run.info.run_id)


def test_a_version_has_its_runs_metrics(registry: Registry, client: MlflowClient) -> None:
    run = logged_run(client, sharpe=1.4, max_drawdown=0.2)
    version = registry.register("1H", source=f"runs:/{run}/model")
    assert registry.metrics("1H", version.version) == {"sharpe": 1.4, "max_drawdown": 0.2}


def test_metrics_set_through_stagekeeper_win_and_are_mlflow_tags(
    registry: Registry, client: MlflowClient
) -> None:
    run = logged_run(client, sharpe=1.4)
    version = registry.register("1H", source=f"runs:/{run}/model", metrics={"sortino": 2.0})
    registry.set_metrics("1H", version.version, {"sharpe": 1.1}, reason="out-of-sample re-run")
    assert registry.metrics("1H", version.version) == {"sharpe": 1.1, "sortino": 2.0}
    tags = client.get_model_version(version.model_name, str(version.version)).tags
    assert tags["stagekeeper.metric.sharpe"] == "1.1"
    assert tags["stagekeeper.metric.sortino"] == "2.0"
    assert client.get_run(run).data.metrics == {"sharpe": 1.4}  # the run is left as it was


def test_a_gate_reads_the_runs_metrics(registry: Registry, client: MlflowClient) -> None:
    registry.set_policy({"beta": {"require": ["sharpe >= 1.0"]}})
    weak = registry.register("1H", source=f"runs:/{logged_run(client, sharpe=0.4)}/model")
    strong = registry.register("1H", source=f"runs:/{logged_run(client, sharpe=1.6)}/model")
    with pytest.raises(GateError, match=r"found 0\.4"):
        registry.promote("1H", weak.version, Stage.BETA)
    registry.promote("1H", strong.version, Stage.BETA)


def test_the_policy_is_a_model_of_its_own_in_mlflow(
    registry: Registry, client: MlflowClient, template: str
) -> None:
    change = registry.set_policy({"champion": {"require": ["sharpe >= 1.0"]}}, reason="rule")
    model = client.get_registered_model(f"stagekeeper settings of {template}")
    [(key, value)] = [(k, v) for k, v in model.tags.items() if k.startswith("stagekeeper.policy.")]
    assert key.endswith(change.operation_id)
    assert '"sharpe >= 1.0"' in value
    assert registry.list() == []  # not mistaken for a timeframe's model


@pytest.mark.mlflow_server
def test_a_user_name_a_server_does_not_check_is_no_identity(
    mlflow_server: str, template: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server without users lets any name through, so the name sent with every request
    is not recorded as who acted: only a server that checks users verifies one
    (``test_mlflow_identity.py``)."""
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "svc-trading")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "not-checked-by-this-server")
    url = mlflow_server.replace("http://", "mlflow+http://")
    with open_registry(url, actor="ann", model_name_template=template) as registry:
        registry.set_policy({"beta": {"approvals": 1}})
        version = registry.register("1H", source="s3://bucket/model")
        registry.promote("1H", version.version, "beta")
        request = registry.pending_request("1H", version.version, "beta")
        assert request is not None and request.identity is None
        registry.approve(request.id, actor="bob")
        [done] = registry.requests("1H", pending_only=False)
        assert [(a.actor, a.identity) for a in done.approvals] == [("bob", None)]
        assert {c.who.verified for c in registry.history("1H")} == {False}


def test_an_embedded_registry_authenticates_nobody(
    mlflow_sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "svc-trading")
    with open_registry(mlflow_sqlite_url) as registry:
        assert registry.store.identity() is None  # no server checks that name


def test_a_policy_set_elsewhere_binds_a_writer_that_had_seen_none(
    registry: Registry, client: MlflowClient, mlflow_url: str, template: str
) -> None:
    """A model created while no policy is set says so, and writes on it skip the settings
    model; setting a policy takes that back first, so a writer that saw the mark before
    still reads the policy the next time (decision record 17)."""
    for number in (1, 2):
        registry.register("1H", source=f"s3://models/{number}")
        registry.promote("1H", number, "beta")
    registry.promote("1H", 1, "champion")  # this writer now reads the model without policy
    name = registry.model_name("1H")
    assert NO_POLICY_TAG in client.get_registered_model(name).tags
    with open_registry(mlflow_url, actor="admin", model_name_template=template) as other:
        other.set_policy({"champion": {"require": ["sharpe >= 1.0"]}})
    assert NO_POLICY_TAG not in client.get_registered_model(name).tags
    with pytest.raises(GateError, match="sharpe"):
        registry.promote("1H", 2, "champion")
    assert registry.get("1H", 2).stage is Stage.BETA  # type: ignore[union-attr]


def test_a_model_created_while_a_policy_is_being_set_is_not_marked(
    registry: Registry, client: MlflowClient, template: str
) -> None:
    """A policy is set in three steps: mark the settings model, take every model's mark
    away, write the policy. A model created after the second step's listing sees the
    first, and does not mark itself."""
    settings = f"stagekeeper settings of {template}"
    client.create_registered_model(settings, tags={POLICIES_TAG: "a policy is being set"})
    registry.register("4H", source="s3://models/4h")
    assert NO_POLICY_TAG not in client.get_registered_model(registry.model_name("4H")).tags


def test_a_model_without_the_mark_reads_the_policy(
    registry: Registry, client: MlflowClient
) -> None:
    """A model made by hand, or by stagekeeper before the mark existed, says nothing, and
    is read with the policy."""
    registry.set_policy({"beta": {"require": ["sharpe >= 1.0"]}})
    client.create_registered_model(registry.model_name("1D"))
    registry.register("1D", source="s3://models/1d")
    assert NO_POLICY_TAG not in client.get_registered_model(registry.model_name("1D")).tags
    with pytest.raises(GateError, match="sharpe"):
        registry.promote("1D", 1, "beta")


def test_a_policy_whose_setting_fails_midway_is_not_in_force(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Setting a policy takes the models' marks away before writing it: failing in between
    leaves no policy in force that a marked model would not read; trying again sets it."""
    registry.register("1H", source="s3://models/1")
    store = registry.store
    unmark = store.client.delete_registered_model_tag

    def unreachable(name: str, key: str) -> None:
        raise MlflowException("the server went away", error_code=INTERNAL_ERROR)

    monkeypatch.setattr(store.client, "delete_registered_model_tag", unreachable)
    with pytest.raises(BackendError, match="went away"):
        registry.set_policy({"beta": {"require": ["sharpe >= 1.0"]}})
    assert store.policies() == {}
    monkeypatch.setattr(store.client, "delete_registered_model_tag", unmark)
    registry.set_policy({"beta": {"require": ["sharpe >= 1.0"]}})
    with pytest.raises(GateError, match="sharpe"):
        registry.promote("1H", 1, "beta")


def test_a_model_read_again_is_taken_at_its_word_again(
    registry: Registry,
    client: MlflowClient,
    mlflow_url: str,
    template: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A write reads its model twice when a late write had to be undone first; a policy
    set in between takes the model's no-policy tag away, and the second read must not be
    judged by what the first read fetched beside it."""
    registry.register("1H", source="s3://models/1")
    name = registry.model_name("1H")
    client.set_registered_model_tag(name, f"{FENCED_PREFIX}frozen-writer", "")

    def policy_set_meanwhile(*_args: object) -> list[object]:
        with open_registry(mlflow_url, actor="admin", model_name_template=template) as other:
            other.set_policy({"beta": {"require": ["sharpe >= 1.0"]}})
        return []

    monkeypatch.setattr(doctor, "undo_late_writes", policy_set_meanwhile)
    with pytest.raises(GateError, match="sharpe"):
        registry.promote("1H", 1, "beta")

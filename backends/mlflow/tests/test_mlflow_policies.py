"""Evidence on MLflow: a version's metrics are its run's, with stagekeeper's tags over
them, and policies are kept where MLflow users see them."""

from __future__ import annotations

import pytest
from mlflow.tracking import MlflowClient

from stagekeeper import open_registry
from stagekeeper.domain.errors import GateError
from stagekeeper.domain.stages import Stage
from stagekeeper.service.registry import Registry


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

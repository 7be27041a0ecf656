"""Scripts reach MLflow's API with the stock MLflow client, as docs/access.md documents."""

from __future__ import annotations

import uuid

import pytest
from mlflow.tracking import MlflowClient
from playwright.sync_api import Browser

from tests.e2e.browser_login import sign_in
from tests.support.deployment import AUTOMATION_CLIENT, Deployment


def log_a_run(deployment: Deployment) -> str:
    client = MlflowClient(tracking_uri=deployment.mlflow_url)
    experiment_id = client.create_experiment(f"script-{uuid.uuid4().hex[:8]}")
    run = client.create_run(experiment_id)
    client.log_metric(run.info.run_id, "loss", 0.25)
    client.set_terminated(run.info.run_id)
    return str(client.get_run(run.info.run_id).info.status)


def test_client_with_a_keycloak_access_token_as_bearer(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", deployment.user_tokens("alice")["access_token"])
    assert log_a_run(deployment) == "FINISHED"


def test_client_with_the_plugins_personal_access_token(
    deployment: Deployment, browser: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    context = browser.new_context()
    sign_in(context.new_page(), deployment, "alice", deployment.set_known_password("alice"))
    issued = context.request.patch(
        f"{deployment.mlflow_url}/api/2.0/mlflow/users/access-token", data={}
    )
    assert issued.status == 200, issued.text()
    token = issued.json()["token"]
    context.close()
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "alice@example.com")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", token)
    assert log_a_run(deployment) == "FINISHED"


def test_client_with_the_automation_clients_token(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    automation = deployment.oidc(AUTOMATION_CLIENT, deployment.outputs["automationClientSecret"])
    token = automation.token(grant_type="client_credentials")["access_token"]
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", token)
    assert log_a_run(deployment) == "FINISHED"

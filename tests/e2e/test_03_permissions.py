"""Who may do what in MLflow follows the Keycloak groups the stack declared."""

from __future__ import annotations

import uuid

from playwright.sync_api import Browser

from tests.e2e.browser_login import current_user, sign_in
from tests.support.deployment import Deployment

SEARCH = "/api/2.0/mlflow/experiments/search?max_results=5"


def test_anonymous_api_requests_are_refused(deployment: Deployment) -> None:
    with deployment.mlflow() as anonymous:
        assert anonymous.get(SEARCH).status_code == 401


def test_member_of_the_user_group_creates_an_experiment_and_logs_a_run(
    deployment: Deployment,
) -> None:
    token = deployment.user_tokens("alice")["access_token"]
    with deployment.mlflow(token) as mlflow:
        created = mlflow.post(
            "/api/2.0/mlflow/experiments/create", json={"name": f"alice-{uuid.uuid4().hex[:8]}"}
        )
        assert created.status_code == 200, created.text
        experiment_id = created.json()["experiment_id"]
        run = mlflow.post("/api/2.0/mlflow/runs/create", json={"experiment_id": experiment_id})
        assert run.status_code == 200, run.text
        run_id = run.json()["run"]["info"]["run_id"]
        logged = mlflow.post(
            "/api/2.0/mlflow/runs/log-metric",
            json={"run_id": run_id, "key": "accuracy", "value": 0.93, "timestamp": 0},
        )
        assert logged.status_code == 200, logged.text
        read = mlflow.get("/api/2.0/mlflow/runs/get", params={"run_id": run_id})
        assert read.json()["run"]["data"]["metrics"][0]["value"] == 0.93


def test_member_of_the_admin_group_is_an_mlflow_admin(
    deployment: Deployment, browser: Browser
) -> None:
    context = browser.new_context()
    password = deployment.set_known_password("adam")
    sign_in(context.new_page(), deployment, "adam", password, second_factor=True)
    assert current_user(context, deployment)["is_admin"] is True
    admin_only = context.request.get(f"{deployment.mlflow_url}/api/2.0/mlflow/users/details")
    assert admin_only.status == 200, admin_only.text()
    context.close()


def test_member_of_the_user_group_is_not_an_admin(deployment: Deployment) -> None:
    token = deployment.user_tokens("alice")["access_token"]
    with deployment.mlflow(token) as mlflow:
        assert mlflow.get("/api/2.0/mlflow/users/current").json()["is_admin"] is False
        assert mlflow.get("/api/2.0/mlflow/users/details").status_code == 403


def test_a_user_in_neither_group_is_refused(deployment: Deployment) -> None:
    token = deployment.user_tokens("otto")["access_token"]
    with deployment.mlflow(token) as mlflow:
        assert mlflow.get(SEARCH).status_code in (401, 403)

"""Experiments survive MLflow's container being replaced by a config change."""

from __future__ import annotations

import uuid

from pulumi import automation as auto

from tests.e2e.conftest import _log
from tests.e2e.deployment import Deployment, docker

CONTAINER = "mlflow-e2e-mlflow"


def test_experiments_survive_replacing_the_mlflow_container(deployment: Deployment) -> None:
    name = f"survivor-{uuid.uuid4().hex[:8]}"
    token = deployment.user_tokens("alice")["access_token"]
    with deployment.mlflow(token) as mlflow:
        created = mlflow.post("/api/2.0/mlflow/experiments/create", json={"name": name})
        assert created.status_code == 200, created.text
    before = docker("inspect", "--format", "{{.Id}}", CONTAINER).strip()

    deployment.stack.set_config("defaultMlflowPermission", auto.ConfigValue("READ"))
    deployment.up(_log)
    after = docker("inspect", "--format", "{{.Id}}", CONTAINER).strip()
    assert after != before, "the config change should have replaced MLflow's container"

    token = deployment.user_tokens("alice")["access_token"]
    with deployment.mlflow(token) as mlflow:
        found = mlflow.get(
            "/api/2.0/mlflow/experiments/get-by-name", params={"experiment_name": name}
        )
        assert found.status_code == 200, found.text
        assert found.json()["experiment"]["name"] == name

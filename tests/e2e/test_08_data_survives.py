"""Experiments survive MLflow's container being replaced by a config change."""

from __future__ import annotations

import uuid

import pytest
from pulumi import automation as auto

from tests.e2e.conftest import _log
from tests.e2e.deployment import PulumiDeployment, docker

CONTAINER = "mlflow-e2e-mlflow"

pytestmark = pytest.mark.engine


def test_experiments_survive_replacing_the_mlflow_container(engine: PulumiDeployment) -> None:
    name = f"survivor-{uuid.uuid4().hex[:8]}"
    token = engine.user_tokens("alice")["access_token"]
    with engine.mlflow(token) as mlflow:
        created = mlflow.post("/api/2.0/mlflow/experiments/create", json={"name": name})
        assert created.status_code == 200, created.text
    before = docker("inspect", "--format", "{{.Id}}", CONTAINER).strip()

    engine.automation.set_config("defaultMlflowPermission", auto.ConfigValue("READ"))
    engine.up(_log)
    after = docker("inspect", "--format", "{{.Id}}", CONTAINER).strip()
    assert after != before, "the config change should have replaced MLflow's container"

    token = engine.user_tokens("alice")["access_token"]
    with engine.mlflow(token) as mlflow:
        found = mlflow.get(
            "/api/2.0/mlflow/experiments/get-by-name", params={"experiment_name": name}
        )
        assert found.status_code == 200, found.text
        assert found.json()["experiment"]["name"] == name

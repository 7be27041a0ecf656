"""Experiments live in Postgres and on volumes, not in MLflow's container: they survive its
replacement (by a config change under the engine; by re-creating it from the declaration under
the live applier)."""

from __future__ import annotations

import uuid

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

    deployment.replace_mlflow_container(_log)
    after = docker("inspect", "--format", "{{.Id}}", CONTAINER).strip()
    assert after != before, "MLflow's container should have been replaced"

    token = deployment.user_tokens("alice")["access_token"]
    with deployment.mlflow(token) as mlflow:
        found = mlflow.get(
            "/api/2.0/mlflow/experiments/get-by-name", params={"experiment_name": name}
        )
        assert found.status_code == 200, found.text
        assert found.json()["experiment"]["name"] == name

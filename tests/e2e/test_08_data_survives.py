"""Experiments and runs live in Postgres and on volumes, not in MLflow's container: they
survive its replacement by a config change."""

from __future__ import annotations

import time
import uuid

from tests.support.deployment import Deployment, docker, log

CONTAINER = "mlflow-e2e-mlflow"


def test_experiments_and_runs_survive_replacing_the_mlflow_container(
    deployment: Deployment,
) -> None:
    name = f"survivor-{uuid.uuid4().hex[:8]}"
    token = deployment.user_tokens("alice")["access_token"]
    with deployment.mlflow(token) as mlflow:
        created = mlflow.post("/api/2.0/mlflow/experiments/create", json={"name": name})
        assert created.status_code == 200, created.text
        experiment_id = created.json()["experiment_id"]
        run = mlflow.post(
            "/api/2.0/mlflow/runs/create",
            json={"experiment_id": experiment_id, "start_time": int(time.time() * 1000)},
        )
        assert run.status_code == 200, run.text
        run_id = run.json()["run"]["info"]["run_id"]
        logged = mlflow.post(
            "/api/2.0/mlflow/runs/log-metric",
            json={"run_id": run_id, "key": "loss", "value": 0.25, "timestamp": 1, "step": 0},
        )
        assert logged.status_code == 200, logged.text
    before = docker("inspect", "--format", "{{.Id}}", CONTAINER).strip()

    deployment.replace_mlflow_container(log)
    after = docker("inspect", "--format", "{{.Id}}", CONTAINER).strip()
    assert after != before, "MLflow's container should have been replaced"

    token = deployment.user_tokens("alice")["access_token"]
    with deployment.mlflow(token) as mlflow:
        found = mlflow.get(
            "/api/2.0/mlflow/experiments/get-by-name", params={"experiment_name": name}
        )
        assert found.status_code == 200, found.text
        assert found.json()["experiment"]["experiment_id"] == experiment_id
        kept = mlflow.get("/api/2.0/mlflow/runs/get", params={"run_id": run_id})
        assert kept.status_code == 200, kept.text
        metrics = kept.json()["run"]["data"]["metrics"]
        assert [(m["key"], m["value"]) for m in metrics] == [("loss", 0.25)]

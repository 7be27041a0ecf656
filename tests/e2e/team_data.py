"""Data a team puts in the stack (an experiment with a run, params, metric history and an
artifact; an MLflow permission; a Keycloak user made by hand; a changed password), and the
checks that all of it is still there: after a restore, an upgrade, a rollback."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx

from tests.support.deployment import Deployment

ARTIFACT = "notes/summary.txt"
SESSION_SETTINGS = ("ssoSessionIdleTimeout", "ssoSessionMaxLifespan", "accessTokenLifespan")


def experiment_by_name(mlflow: httpx.Client, name: str) -> httpx.Response:
    return mlflow.get("/api/2.0/mlflow/experiments/get-by-name", params={"experiment_name": name})


def ensure_experiment(mlflow: httpx.Client, name: str) -> str:
    """The id of experiment `name`, created if it does not exist yet."""
    found = experiment_by_name(mlflow, name)
    if found.status_code == 200:
        return str(found.json()["experiment"]["experiment_id"])
    created = mlflow.post("/api/2.0/mlflow/experiments/create", json={"name": name})
    assert created.status_code == 200, created.text
    return str(created.json()["experiment_id"])


def mlflow_user(username: str) -> str:
    return f"{username}@example.com"


def write_data(stack: Deployment) -> dict[str, Any]:
    """An experiment with a run (params, metric history, an artifact), a permission granted to
    bella, a user made by hand in Keycloak, alice's own password."""
    # bella's MLflow account exists once she has called MLflow (provisioned on bearer auth).
    with stack.mlflow(stack.user_tokens("bella")["access_token"]) as mlflow:
        assert mlflow.get("/api/2.0/mlflow/users/current").status_code == 200
    token = stack.user_tokens("alice")["access_token"]
    name = f"kept-{uuid.uuid4().hex[:8]}"
    with stack.mlflow(token) as mlflow:
        experiment_id = mlflow.post(
            "/api/2.0/mlflow/experiments/create", json={"name": name}
        ).json()["experiment_id"]
        run_id = mlflow.post(
            "/api/2.0/mlflow/runs/create",
            json={"experiment_id": experiment_id, "start_time": int(time.time() * 1000)},
        ).json()["run"]["info"]["run_id"]
        metrics = [{"key": "loss", "value": 1 / (step + 1), "timestamp": step, "step": step}
                   for step in range(20)]  # fmt: skip
        logged = mlflow.post(
            "/api/2.0/mlflow/runs/log-batch",
            json={"run_id": run_id, "metrics": metrics, "params": [{"key": "lr", "value": "0.01"}]},
        )
        assert logged.status_code == 200, logged.text
        uploaded = mlflow.put(
            f"/api/2.0/mlflow-artifacts/artifacts/{experiment_id}/{run_id}/artifacts/{ARTIFACT}",
            content=b"the loss went down",
        )
        assert uploaded.status_code == 200, uploaded.text
        granted = mlflow.post(
            f"/api/2.0/mlflow/permissions/users/{mlflow_user('bella')}/experiments/{experiment_id}",
            json={"permission": "READ"},
        )
        assert granted.status_code in (200, 201), granted.text
    admin = stack.admin()
    admin.create_user({"username": "carol", "email": "carol@example.com", "enabled": True})
    return {
        "name": name,
        "experiment_id": experiment_id,
        "run_id": run_id,
        "alice_password": stack.set_known_password("alice"),
        "realm": {key: admin.get_realm(stack.realm)[key] for key in SESSION_SETTINGS},
        "groups": sorted(g["name"] for g in admin.get_groups()),
        "users": sorted(u["username"] for u in admin.get_users()),
    }


def assert_tracking_data_is_there(stack: Deployment, written: dict[str, Any]) -> None:
    """The experiment, its run, params, full metric history and artifact, read as alice with
    the password she had when the data was written."""
    oidc = stack.oidc()
    token = oidc.token("alice", written["alice_password"])["access_token"]
    with stack.mlflow(token) as mlflow:
        found = mlflow.get(
            "/api/2.0/mlflow/experiments/get-by-name", params={"experiment_name": written["name"]}
        )
        assert found.status_code == 200, found.text
        assert found.json()["experiment"]["experiment_id"] == written["experiment_id"]
        run = mlflow.get("/api/2.0/mlflow/runs/get", params={"run_id": written["run_id"]})
        assert run.json()["run"]["data"]["params"] == [{"key": "lr", "value": "0.01"}]
        history = mlflow.get(
            "/api/2.0/mlflow/metrics/get-history",
            params={"run_id": written["run_id"], "metric_key": "loss", "max_results": 100},
        ).json()["metrics"]
        assert sorted(m["step"] for m in history) == list(range(20))
        artifact = mlflow.get(
            f"/api/2.0/mlflow-artifacts/artifacts/{written['experiment_id']}/"
            f"{written['run_id']}/artifacts/{ARTIFACT}"
        )
        assert artifact.status_code == 200, artifact.text
        assert artifact.content == b"the loss went down"


def assert_permissions_and_identities_are_there(stack: Deployment, written: dict[str, Any]) -> None:
    """bella's grant on the experiment; Keycloak's users, groups and session settings."""
    # alice manages the experiment she made: she may read bella's grant on it.
    token = stack.oidc().token("alice", written["alice_password"])["access_token"]
    with stack.mlflow(token) as mlflow:
        permission = mlflow.get(
            f"/api/2.0/mlflow/permissions/users/{mlflow_user('bella')}/experiments/"
            f"{written['experiment_id']}"
        )
        assert permission.status_code == 200, permission.text
        assert permission.json()["experiment_permission"]["permission"] == "READ"
    admin = stack.admin()
    assert sorted(u["username"] for u in admin.get_users()) == written["users"]
    assert "carol" in written["users"]
    assert sorted(g["name"] for g in admin.get_groups()) == written["groups"]
    realm = admin.get_realm(stack.realm)
    assert {key: realm[key] for key in SESSION_SETTINGS} == written["realm"]

"""Upgrading a deployed stack to this code replaces none of its data: a stack brought up by the
last released code (RELEASED), then `pulumi preview` and `pulumi up` of this checkout on the
same state, show no replacement or deletion of a volume, a database or the realm, and the
experiment made before the upgrade is still there."""

from __future__ import annotations

import io
import shutil
import subprocess
import tarfile
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pulumi import automation as auto

from stackrules.names import resource_prefix
from tests.e2e.upgrades import dropped_data, dropping_steps
from tests.support.deployment import Deployment, e2e_config, log, remove_leftovers
from tests.support.workdir import PROJECT_FILES, REPO, copy_project

# main as the first release left it: what users have deployed.
RELEASED = "328154d9bdd7500b59a5a9e6adfb1552c33cc6f5"
STACK = "upgrade"
PORTS = {"keycloakPort": 18081, "mlflowPort": 15001, "mlflowDbPort": 25434, "keycloakDbPort": 25435}
# What an upgrade may replace: containers are stateless (the data is on named volumes, which
# must stay), and the MLflow image is rebuilt whenever images/mlflow changes. Keycloak's derived
# image (and its RemoteImage) is new since RELEASED: created, and so never one of the steps that
# replace or delete, which are all this test judges; the Keycloak container is replaced.
REPLACEABLE_TYPES = {"docker:index/container:Container"}
REPLACEABLE = {
    "mlflowstack:index:MlflowServer$docker:index/image:Image::mlflow-image",
    "mlflowstack:index:MlflowServer$docker:index/remoteImage:RemoteImage::mlflow-built-image",
}


def released_project(workdir: Path) -> None:
    """The project's files as RELEASED had them, sharing this checkout's virtualenv."""
    listed = subprocess.run(
        ["git", "-C", str(REPO), "ls-tree", "--name-only", RELEASED],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    archive = subprocess.run(
        [
            "git",
            "-C",
            str(REPO),
            "archive",
            "--format=tar",
            RELEASED,
            *(name for name in PROJECT_FILES if name in listed),
        ],
        capture_output=True,
        check=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(workdir, filter="data")
    (workdir / ".venv").symlink_to(REPO / ".venv")


def released_config() -> dict[str, Any]:
    """The e2e config as the released code takes it: the keys its Pulumi.yaml declares (it
    refuses others), people without teams (it knew none)."""
    schema = subprocess.run(
        ["git", "-C", str(REPO), "show", f"{RELEASED}:Pulumi.yaml"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    declared = yaml.safe_load(schema)["config"]
    config = {key: value for key, value in {**e2e_config(), **PORTS}.items() if key in declared}
    config["users"] = [
        {key: value for key, value in user.items() if key != "teams"} for user in config["users"]
    ]
    return config


@pytest.fixture(scope="module")
def released() -> Iterator[Deployment]:
    remove_leftovers(log, resource_prefix(STACK))
    with tempfile.TemporaryDirectory() as scratch:
        config = released_config()
        deployed = Deployment.create(Path(scratch), log, STACK, config, released_project)
        try:
            yield deployed
        finally:
            deployed.destroy(log)


def test_upgrading_to_this_code_replaces_no_volume_database_or_realm(released: Deployment) -> None:
    name = f"before-upgrade-{uuid.uuid4().hex[:8]}"
    token = released.user_tokens("alice")["access_token"]
    with released.mlflow(token) as mlflow:
        created = mlflow.post("/api/2.0/mlflow/experiments/create", json={"name": name})
        assert created.status_code == 200, created.text

    workdir = Path(released.stack.workspace.work_dir)
    (workdir / ".venv").unlink()
    for entry in PROJECT_FILES:
        target = workdir / entry
        if target.is_dir():
            shutil.rmtree(target)
        else:
            target.unlink(missing_ok=True)  # a file or folder the released code did not have
    copy_project(workdir)

    previewed: list[auto.EngineEvent] = []
    released.preview(log, on_event=previewed.append)
    planned = dropping_steps(previewed)
    log(f"upgrade plan, steps that drop a resource: {planned or 'none'}")
    assert dropped_data(planned) == []

    applied: list[auto.EngineEvent] = []
    result = released.stack.up(on_output=log, on_event=applied.append, color="never")
    done = dropping_steps(applied)
    log(f"upgrade: {result.summary.resource_changes}; steps that dropped a resource: {done}")
    assert dropped_data(done) == []
    unexpected = sorted(
        {
            urn
            for _, kind, urn in done
            if kind not in REPLACEABLE_TYPES and urn.split("::", 2)[2] not in REPLACEABLE
        }
    )
    assert unexpected == [], "only containers and the MLflow image may be replaced"

    # The released client's secret was Keycloak's; this code gives it the stack's own (so MLflow
    # starts beside Keycloak): the same client, updated in place, with the new secret exported.
    released_secret = released.outputs["clientSecret"]
    released.reload_outputs()
    assert released.outputs["clientSecret"] != released_secret
    assert "clientSecret" in released.secret_outputs
    token = released.user_tokens("alice")["access_token"]
    with released.mlflow(token) as mlflow:
        found = mlflow.get(
            "/api/2.0/mlflow/experiments/get-by-name", params={"experiment_name": name}
        )
        assert found.status_code == 200, found.text

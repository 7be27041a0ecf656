"""What `pulumi destroy` does to the data. A stack left at the default (`protectData` true:
every stack but the dev one) refuses, and touches nothing; a destroy after lifting the
protection in the state alone (`pulumi state unprotect`) keeps the databases and the volumes
that hold them. With `protectData` false, destroy removes everything the stack made and leaves
the rest of Docker as found, and the stack comes up again after it."""

from __future__ import annotations

import subprocess
import uuid

import httpx
import pytest
from pulumi import automation as auto

from stackrules.versions import pinned_versions
from tests.support.deployment import (
    PREFIX,
    Deployment,
    docker,
    docker_inventory,
    log,
    poll,
    stack_objects,
)

# Both Postgres servers' data volumes (prefix-<server>-data), and MLflow's artifacts.
TRACKING_DATA = f"{PREFIX}-mlflow-db-data"
KEYCLOAK_DATA = f"{PREFIX}-keycloak-db-data"
ARTIFACTS = f"{PREFIX}-mlflow-artifacts"


def test_a_stack_left_at_the_default_refuses_to_destroy_and_touches_nothing(
    deployment: Deployment,
) -> None:
    deployment.stack.remove_config("protectData")
    deployment.up(log)
    before = stack_objects()

    with pytest.raises(auto.CommandError) as refused:
        deployment.stack.destroy(on_output=log, color="never")

    assert "protected" in str(refused.value), refused.value
    assert stack_objects() == before
    assert httpx.get(f"{deployment.mlflow_url}/health", timeout=10).status_code == 200
    # Keycloak's users are still there: alice signs in.
    assert deployment.user_tokens("alice")["access_token"]


def test_a_destroy_with_the_protection_lifted_in_the_state_alone_keeps_the_data(
    deployment: Deployment,
) -> None:
    experiment = f"kept-{uuid.uuid4().hex[:8]}"
    token = deployment.user_tokens("alice")["access_token"]
    with deployment.mlflow(token) as mlflow:
        created = mlflow.post("/api/2.0/mlflow/experiments/create", json={"name": experiment})
        assert created.status_code == 200, created.text
    assert {TRACKING_DATA, KEYCLOAK_DATA, ARTIFACTS} <= set(stack_objects()["volumes"])

    deployment.pulumi("state", "unprotect", "--all", "--yes")
    deployment.destroy(log)

    left = stack_objects()
    assert left == {"containers": [], "volumes": sorted(left["volumes"]), "networks": []}
    assert sorted(left["volumes"]) == sorted([TRACKING_DATA, KEYCLOAK_DATA, ARTIFACTS])
    found = query_kept(TRACKING_DATA, "mlflow", "SELECT name FROM experiments")
    assert experiment in found.split()
    assert (
        query_kept(KEYCLOAK_DATA, "keycloak", "SELECT name FROM realm")
        .split()
        .count(deployment.realm)
        == 1
    )
    # What the operator does once the data is saved (docs/operations.md, "Destroying a
    # protected stack").
    docker("volume", "rm", *left["volumes"])
    deployment.set_config("protectData", False)


def test_up_after_destroy_brings_the_stack_back(deployment: Deployment) -> None:
    assert deployment.destroyed, "runs after the destroy test"
    deployment.up(log)
    deployment.destroyed = False
    assert httpx.get(f"{deployment.mlflow_url}/health", timeout=10).status_code == 200
    assert len(stack_objects()["containers"]) == 4


def test_destroy_removes_every_container_network_and_volume(
    deployment: Deployment, docker_before: dict[str, set[str]]
) -> None:
    assert all(stack_objects().values()), "the stack should exist before destroy"
    deployment.destroy(log)
    assert stack_objects() == {"containers": [], "volumes": [], "networks": []}
    # Nothing the suite made is left behind, and nothing of anyone else's was touched. Only
    # test stacks' own objects may have gone since the start: each test stack's fixture
    # removes the leftovers of an earlier, interrupted run of it.
    after = docker_inventory()
    left = {kind: sorted(after[kind] - docker_before[kind]) for kind in after}
    assert left == {kind: [] for kind in after}, left
    gone = {kind: docker_before[kind] - after[kind] for kind in after}
    foreign = {
        kind: sorted(n for n in names if not n.startswith("mlflow-"))
        for kind, names in gone.items()
    }
    assert foreign == {kind: [] for kind in after}, foreign


def query_kept(volume: str, database: str, sql: str) -> str:
    """`sql`'s rows in `database` of the Postgres data kept in `volume`, read by a throwaway
    server of the stack's image started on it (named like the stack's objects, so that an
    interrupted run's is removed as a leftover)."""
    name = f"{PREFIX}-kept-data-reader"
    image = pinned_versions()["LOCAL_POSTGRES_IMAGE"]
    docker("run", "-d", "--name", name, "-v", f"{volume}:/var/lib/postgresql/data", image)
    try:
        poll(
            lambda: (
                subprocess.run(["docker", "exec", name, "pg_isready", "-q"], check=False).returncode
                == 0
            ),
            timeout=60,
            interval=0.5,
        )
        return docker("exec", "-u", "postgres", name, "psql", "-XAtq", "-d", database, "-c", sql)
    finally:
        docker("rm", "-f", name)

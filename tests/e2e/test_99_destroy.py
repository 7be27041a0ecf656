"""`pulumi destroy` removes everything the stack made and leaves the rest of Docker as found;
the stack comes up again after it."""

from __future__ import annotations

import httpx

from tests.e2e.deployment import Deployment, docker_inventory, log, stack_objects


def test_destroy_removes_every_container_network_and_volume(
    deployment: Deployment, docker_before: dict[str, set[str]]
) -> None:
    assert all(stack_objects().values()), "the stack should exist before destroy"
    deployment.destroy(log)
    assert stack_objects() == {"containers": [], "volumes": [], "networks": []}
    assert docker_inventory() == docker_before


def test_up_after_destroy_brings_the_stack_back(deployment: Deployment) -> None:
    assert deployment.destroyed, "runs after the destroy test"
    deployment.up(log)
    deployment.destroyed = False
    assert httpx.get(f"{deployment.mlflow_url}/health", timeout=10).status_code == 200
    assert len(stack_objects()["containers"]) == 4

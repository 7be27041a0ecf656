"""`pulumi destroy` removes everything the stack made and leaves the rest of Docker as found;
the stack comes up again after it."""

from __future__ import annotations

import httpx

from tests.support.deployment import Deployment, docker_inventory, log, stack_objects


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


def test_up_after_destroy_brings_the_stack_back(deployment: Deployment) -> None:
    assert deployment.destroyed, "runs after the destroy test"
    deployment.up(log)
    deployment.destroyed = False
    assert httpx.get(f"{deployment.mlflow_url}/health", timeout=10).status_code == 200
    assert len(stack_objects()["containers"]) == 4

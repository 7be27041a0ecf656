"""`pulumi destroy` removes everything the stack made and leaves the rest of Docker as found."""

from __future__ import annotations

from tests.e2e.conftest import _log
from tests.e2e.deployment import PREFIX, Deployment, docker_inventory


def test_destroy_removes_every_container_network_and_volume(
    deployment: Deployment, docker_before: dict[str, set[str]]
) -> None:
    deployment.destroy(_log)
    after = docker_inventory()
    for kind, names in after.items():
        assert not [n for n in names if n.startswith(PREFIX)], f"{kind} left: {names}"
        assert names == docker_before[kind], f"{kind} differ from before the suite"

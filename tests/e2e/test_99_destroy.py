"""`pulumi destroy` removes everything the stack made and leaves the rest of Docker as found."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import _log
from tests.e2e.deployment import PREFIX, PulumiDeployment, docker_inventory

pytestmark = pytest.mark.engine


def test_destroy_removes_every_container_network_and_volume(
    engine: PulumiDeployment, docker_before: dict[str, set[str]]
) -> None:
    engine.destroy(_log)
    after = docker_inventory()
    for kind, names in after.items():
        assert not [n for n in names if n.startswith(PREFIX)], f"{kind} left: {names}"
        assert names == docker_before[kind], f"{kind} differ from before the suite"

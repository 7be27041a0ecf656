"""What a killed run left of the e2e stack (unknown to the next run's fresh state) is removed
before the next `up`, and said so; nothing else in Docker is touched."""

from __future__ import annotations

from stackrules.versions import pinned_versions
from tests.support.deployment import PREFIX, docker, remove_leftovers, stack_objects


def test_leftovers_of_a_killed_run_are_removed_and_named() -> None:
    remove_leftovers(lambda line: None)  # what a killed run really left: its names are taken
    bystander = "mks-e2e-bystander-volume"
    docker("volume", "create", bystander)
    docker("volume", "create", f"{PREFIX}-mlflow-db-data")
    docker("network", "create", f"{PREFIX}-net")
    image = pinned_versions()["LOCAL_BASE_IMAGE"]
    docker("create", "--name", f"{PREFIX}-keycloak", "--network", f"{PREFIX}-net", image, "true")
    said: list[str] = []
    try:
        remove_leftovers(said.append)
        assert stack_objects() == {"containers": [], "volumes": [], "networks": []}
        assert bystander in docker("volume", "ls", "--format", "{{.Name}}").split()
        text = "\n".join(said)
        for name in (f"{PREFIX}-keycloak", f"{PREFIX}-mlflow-db-data", f"{PREFIX}-net"):
            assert name in text, text
    finally:
        docker("volume", "rm", bystander, check=False)

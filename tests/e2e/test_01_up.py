"""`pulumi up` from nothing: every service healthy, nothing listening beyond loopback."""

from __future__ import annotations

import subprocess

import httpx

from tests.e2e.deployment import CONTAINERS, PORTS, Deployment, docker


def test_up_from_nothing_leaves_every_container_healthy(deployment: Deployment) -> None:
    for name in CONTAINERS:
        state = docker("inspect", "--format", "{{.State.Health.Status}}", name).strip()
        assert state == "healthy", f"{name} is {state}"


def test_services_answer_on_their_published_urls(deployment: Deployment) -> None:
    assert httpx.get(f"{deployment.mlflow_url}/health", timeout=10).status_code == 200
    discovery = httpx.get(
        f"{deployment.keycloak_url}/realms/{deployment.realm}/.well-known/openid-configuration",
        timeout=10,
    ).json()
    assert discovery["issuer"] == deployment.outputs["issuer"]


def test_nothing_the_stack_publishes_listens_beyond_loopback(deployment: Deployment) -> None:
    listening = subprocess.run(["ss", "-Htln"], capture_output=True, text=True, check=True).stdout
    addresses: dict[int, set[str]] = {}
    for line in listening.splitlines():
        local = line.split()[3]
        host, _, port_text = local.rpartition(":")
        addresses.setdefault(int(port_text), set()).add(host)
    for key, port in PORTS.items():
        assert addresses.get(port) == {"127.0.0.1"}, f"{key} {port}: {addresses.get(port)}"


def test_secrets_are_secret_outputs_of_the_stack(deployment: Deployment) -> None:
    assert deployment.secret_outputs == {
        "clientSecret",
        "keycloakAdminPassword",
        "userInitialPasswords",
        "automationClientSecret",
    }

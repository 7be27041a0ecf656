"""`pulumi up` from nothing: every service healthy, nothing listening beyond loopback."""

from __future__ import annotations

import json
import subprocess

import httpx

from components.docker.service_container import LOG_MAX_FILES, LOG_MAX_SIZE
from tests.support.deployment import CONTAINERS, PORTS, PREFIX, Deployment, docker


def test_up_from_nothing_leaves_every_container_healthy(deployment: Deployment) -> None:
    for name in CONTAINERS:
        state = docker("inspect", "--format", "{{.State.Health.Status}}", name).strip()
        assert state == "healthy", f"{name} is {state}"


def test_every_containers_log_is_rotated(deployment: Deployment) -> None:
    for name in CONTAINERS:
        logging = json.loads(docker("inspect", "--format", "{{json .HostConfig.LogConfig}}", name))
        assert logging == {
            "Type": "json-file",
            "Config": {"max-file": str(LOG_MAX_FILES), "max-size": LOG_MAX_SIZE},
        }, name


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
        "stackAdminClientSecret",
        "stackctlClientSecret",
    }


def _reaches(container: str, host: str, port: int) -> bool:
    """Whether `container` opens a TCP connection to host:port (bash's /dev/tcp, 3 s)."""
    probe = f"timeout 3 bash -c 'echo > /dev/tcp/{host}/{port}' 2>/dev/null"
    done = subprocess.run(["docker", "exec", container, "bash", "-c", probe], check=False)
    return done.returncode == 0


def test_each_database_is_reachable_from_its_own_client_only(deployment: Deployment) -> None:
    mlflow, keycloak = f"{PREFIX}-mlflow", f"{PREFIX}-keycloak"
    reach = {
        "mlflow -> mlflow-db": _reaches(mlflow, "mlflow-db", 5432),
        "mlflow -> keycloak": _reaches(mlflow, "keycloak", 8080),
        "mlflow -> keycloak-db": _reaches(mlflow, "keycloak-db", 5432),
        "keycloak -> keycloak-db": _reaches(keycloak, "keycloak-db", 5432),
        "keycloak -> mlflow-db": _reaches(keycloak, "mlflow-db", 5432),
    }
    print(f"reachability between the stack's containers: {reach}")
    assert reach == {
        "mlflow -> mlflow-db": True,
        "mlflow -> keycloak": True,
        "mlflow -> keycloak-db": False,
        "keycloak -> keycloak-db": True,
        "keycloak -> mlflow-db": False,
    }

"""What the resource-graph tests of the stack share: the declared stack at its defaults and how
to read its containers' inputs."""

from __future__ import annotations

from typing import Any

from tests.support.harness import DeclaredStack

CONTAINER = "docker:index/container:Container"

BUILT_IMAGE = "docker:index/image:Image"

REMOTE_IMAGE = "docker:index/remoteImage:RemoteImage"

SECRET_SIG = "4dabf18193072939515e22adb298388d"

# Keycloak 26's variable of spi-brute-force-protector--default-brute-force-detector--allow-...
CONCURRENT_LOGINS_OPTION = (
    "KC_SPI_BRUTE_FORCE_PROTECTOR__DEFAULT_BRUTE_FORCE_DETECTOR__ALLOW_CONCURRENT_REQUESTS"
)


def is_secret(value: Any) -> bool:
    """The engine received this input as a secret."""
    return isinstance(value, dict) and SECRET_SIG in value


def plain(value: Any) -> Any:
    return value["value"] if is_secret(value) else value


def envs_of(deployment: DeclaredStack, name: str) -> dict[str, str]:
    lines = plain(deployment.one(CONTAINER, name).inputs["envs"])
    return dict(line.split("=", 1) for line in lines)


# The smallest stack on the Kubernetes target.
KUBERNETES = {
    "target": "kubernetes",
    "mlflowImage": "registry.example.com/mlflow-oidc:3.17.2",
    "mlflowHostname": "mlflow.example.com",
    "keycloakHostname": "auth.example.com",
    "kubernetes": {
        "ingressCertificate": "mlflow-tls",
        "artifacts": {"bucket": "ml-artifacts", "accessKeyId": "a", "secretAccessKey": "s"},
    },
}

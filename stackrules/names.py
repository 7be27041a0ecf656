"""The project's names: its config namespace and what its stacks call their Docker objects."""

from __future__ import annotations

# Pulumi.yaml's `name`: the config namespace, the policy pack's name and the cache directory.
NAMESPACE = "mlflow-keycloak-stack"


def config_key(key: str) -> str:
    """The full name of a stack config key, as `pulumi config set` shows it."""
    return f"{NAMESPACE}:{key}"


def resource_prefix(stack: str) -> str:
    """What every container, volume and network of a stack is named after."""
    return f"mlflow-{stack}"


# The Docker label of the TLS edge proxy's container: the only one the policy pack lets publish
# beyond loopback.
ROLE_LABEL = "org.mlflow-stack.role"
EDGE_PROXY_ROLE = "tls-edge-proxy"

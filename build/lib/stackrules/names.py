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
# beyond loopback, and only while it looks like the proxy in what it runs: Caddy's own command
# on the Caddyfile uploaded here, no env, HTTPS (and the redirect to it) as its only ports
# beyond loopback.
ROLE_LABEL = "org.mlflow-stack.role"
EDGE_PROXY_ROLE = "tls-edge-proxy"
EDGE_PROXY_CONFIG_PATH = "/etc/caddy/Caddyfile"
EDGE_PROXY_HTTPS_PORT, EDGE_PROXY_REDIRECT_PORT = 443, 80

# The Docker label that lists a container's env names in order ("A,B,C"). A line holding a
# generated secret is unknown in a preview, name and all; with this label the policy pack still
# knows which setting each line is, so a rule cannot be skipped by building a setting from
# another resource's output.
ENV_NAMES_LABEL = "org.mlflow-stack.env-names"


# Keycloak's required action of someone who has not replaced their temporary password yet
# (the action's name, not a secret). The stack and stackctl both read it.
UPDATE_PASSWORD = "UPDATE_PASSWORD"

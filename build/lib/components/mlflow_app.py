"""MLflow as every target runs it: the image's paths and user, the server command, and the
settings of MLflow and its mlflow-oidc-auth plugin. A new MLflow setting is a line here; the
Docker container (mlflow_server.py) and the Kubernetes Deployment (mlflow_deployment.py) both
pass these on as they are."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypedDict

import pulumi

from stackconfig import MlflowConfig

HTTP_PORT = 5000
# The image's non-root user and its home (images/mlflow/Dockerfile): a fresh volume mounted there
# takes over its ownership, so the server can write there.
IMAGE_UID = 1000
HOME_DIR = "/var/lib/mlflow"
ARTIFACTS_DIR = f"{HOME_DIR}/artifacts"
# The Host of the health checks and probes, which MLflow's host check allows besides the public
# name.
PROBE_HOST = "localhost"


class OidcSettings(TypedDict):
    """What mlflow-oidc-auth needs to know about the realm."""

    discovery_url: str
    client_id: pulumi.Input[str]
    client_secret: pulumi.Input[str]
    redirect_uri: str
    issuer: str
    audience: pulumi.Input[str]
    # The groups whose members may sign in (the user group and the teams); admins always may.
    sign_in_groups: Sequence[str]
    admin_group: str


class PublicEndpoint(TypedDict):
    """MLflow behind a TLS-terminating proxy (the edge proxy, an Ingress) on its own hostname."""

    public_url: str
    trusted_proxies: pulumi.Input[str]
    """The proxy's addresses, whose X-Forwarded-* headers MLflow trusts."""
    service_host: str
    """The name the proxy reaches MLflow by (a network alias, a Service)."""


class Stores(TypedDict):
    """Where MLflow keeps its data, and the key that signs its sessions: all secret."""

    backend_store_uri: pulumi.Input[str]
    users_db_uri: pulumi.Input[str]
    secret_key: pulumi.Input[str]


def server_command(settings: MlflowConfig, artifacts_destination: str) -> list[str]:
    """`mlflow server` (the image's entrypoint) with the plugin, serving the artifacts."""
    return [
        "server",
        "--app-name",
        "oidc-auth",
        "--host",
        "0.0.0.0",
        "--port",
        str(HTTP_PORT),
        "--workers",
        str(settings.mlflow_workers),
        "--serve-artifacts",
        "--artifacts-destination",
        artifacts_destination,
    ]


def secret_env(stores: Stores, oidc: OidcSettings) -> dict[str, pulumi.Input[str]]:
    """The settings that are secrets: database URIs (with passwords), the session key, the
    client secret. mlflow-oidc-auth keeps its users and permissions in a database of its own
    (OIDC_USERS_DB_URI), so they outlive any server; the fixed SECRET_KEY keeps sessions valid
    across restarts and replicas."""
    return {
        "MLFLOW_BACKEND_STORE_URI": stores["backend_store_uri"],
        "OIDC_USERS_DB_URI": stores["users_db_uri"],
        "SECRET_KEY": stores["secret_key"],
        "OIDC_CLIENT_SECRET": oidc["client_secret"],
    }


def settings_env(
    settings: MlflowConfig, oidc: OidcSettings, public: PublicEndpoint | None
) -> dict[str, pulumi.Input[str]]:
    """MLflow's and the plugin's settings other than secrets."""
    env: dict[str, pulumi.Input[str]] = {
        # No usage reports leave the machine (and none hang on a closed network).
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "true",
        "MLFLOW_LOGGING_LEVEL": settings.mlflow_log_level,
        "OIDC_DISCOVERY_URL": oidc["discovery_url"],
        "OIDC_CLIENT_ID": oidc["client_id"],
        "OIDC_REDIRECT_URI": oidc["redirect_uri"],
        "OIDC_ISSUER": oidc["issuer"],
        "OIDC_AUDIENCE": oidc["audience"],
        "OIDC_SCOPE": "openid email profile",
        "OIDC_GROUPS_ATTRIBUTE": "groups",
        "OIDC_GROUP_NAME": ",".join(oidc["sign_in_groups"]),
        "OIDC_ADMIN_GROUP_NAME": oidc["admin_group"],
        "DEFAULT_MLFLOW_PERMISSION": settings.default_mlflow_permission,
        # The session cookie rides no cross-site request but a top-level navigation (the
        # plugin's default, stated so an upgrade that changes it shows in the diff).
        "SESSION_COOKIE_SAMESITE": "lax",
        # Bearer tokens of people who never used the browser (and of the automation
        # client) get an MLflow user on first use; safe because iss and aud are checked.
        "OIDC_PROVISION_ON_BEARER_AUTH": str(settings.provision_on_bearer_auth).lower(),
        # Members of the admin group become MLflow admins at their first bearer call too:
        # that is how the stack's own admin account (offboarding) gets its rights.
        "OIDC_TRUST_BEARER_GROUP_CLAIMS": "true",
        "OIDC_PROVIDER_DISPLAY_NAME": "Keycloak",
        # A browser opening MLflow is sent to Keycloak instead of getting a bare 401.
        "AUTOMATIC_LOGIN_REDIRECT": "true",
    }
    if public is not None:
        env.update(_behind_proxy(public))
    return env


def _behind_proxy(public: PublicEndpoint) -> dict[str, pulumi.Input[str]]:
    """Secure session cookies; the proxy's forwarded headers trusted; MLflow's own host and
    origin checks told the public name (its defaults allow only localhost names)."""
    name = public["public_url"].removeprefix("https://")
    return {
        "SESSION_COOKIE_SECURE": "true",
        "TRUSTED_PROXIES": public["trusted_proxies"],
        # The public name (with and without its port), the proxy's name for MLflow, and what
        # this host's own tools and the health checks use.
        "MLFLOW_SERVER_ALLOWED_HOSTS": ",".join(
            [
                name,
                name.split(":")[0],
                f"{public['service_host']}:{HTTP_PORT}",
                PROBE_HOST,
                f"{PROBE_HOST}:*",
                "127.0.0.1:*",
            ]
        ),
        "MLFLOW_SERVER_CORS_ALLOWED_ORIGINS": public["public_url"],
    }

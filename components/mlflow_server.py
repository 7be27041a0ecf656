"""The MLflow tracking server behind mlflow-oidc-auth."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TypedDict

import pulumi
import pulumi_docker as docker

from components.generated import generated_secret
from components.service_container import (
    HealthCheck,
    Placement,
    built_image,
    http_ready_probe,
    local_image,
    service_container,
)
from components.stack_component import Options, StackComponent, data_options

HTTP_PORT = 5000
# The image's home of the non-root user (images/mlflow/Dockerfile): a fresh named volume mounted
# there takes over its ownership, so the server can write artifacts.
DATA_DIR = "/var/lib/mlflow"
ARTIFACTS_DIR = f"{DATA_DIR}/artifacts"
BUILD_CONTEXT = Path(__file__).resolve().parent.parent / "images" / "mlflow"
IMAGE_REPOSITORY = "mlflow-keycloak-stack/mlflow"

HEALTH = HealthCheck(http_ready_probe(HTTP_PORT, "/health"), start_period="20s", wait_timeout=600)


class OidcSettings(TypedDict):
    """What mlflow-oidc-auth needs to know about the realm (all from Keycloak's outputs)."""

    discovery_url: str
    client_id: pulumi.Input[str]
    client_secret: pulumi.Input[str]
    redirect_uri: str
    issuer: str
    audience: pulumi.Input[str]
    # The groups whose members may sign in (the user group and the teams); admins always may.
    sign_in_groups: Sequence[str]
    admin_group: str
    default_permission: str
    provision_on_bearer_auth: bool


class MlflowServerArgs(TypedDict):
    placement: Placement
    # Further containers of the same server (after the first), each with its own name and
    # alias: the edge proxy balances them; they share the key, the stores and the artifacts.
    replica_placements: Sequence[Placement]
    image_name: str
    prebuilt_image: str | None
    workers: int
    build_args: dict[str, str]
    backend_store_uri: pulumi.Input[str]
    users_db_uri: pulumi.Input[str]
    oidc: OidcSettings
    protect_data: bool
    proxy: BehindProxy | None


class BehindProxy(TypedDict):
    """MLflow behind the edge proxy on its own HTTPS hostname."""

    trusted_addresses: pulumi.Input[str] | None
    public_url: str


def server_command(workers: int, artifacts_destination: str) -> list[str]:
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
        str(workers),
        "--serve-artifacts",
        "--artifacts-destination",
        artifacts_destination,
    ]


def plugin_env(oidc: OidcSettings) -> dict[str, pulumi.Input[str]]:
    """mlflow-oidc-auth's settings other than secrets, the same on every target."""
    return {
        "OIDC_DISCOVERY_URL": oidc["discovery_url"],
        "OIDC_CLIENT_ID": oidc["client_id"],
        "OIDC_REDIRECT_URI": oidc["redirect_uri"],
        "OIDC_ISSUER": oidc["issuer"],
        "OIDC_AUDIENCE": oidc["audience"],
        "OIDC_SCOPE": "openid email profile",
        "OIDC_GROUPS_ATTRIBUTE": "groups",
        "OIDC_GROUP_NAME": ",".join(oidc["sign_in_groups"]),
        "OIDC_ADMIN_GROUP_NAME": oidc["admin_group"],
        "DEFAULT_MLFLOW_PERMISSION": oidc["default_permission"],
        # The session cookie rides no cross-site request but a top-level navigation (the
        # plugin's default, stated so an upgrade that changes it shows in the diff).
        "SESSION_COOKIE_SAMESITE": "lax",
        # Bearer tokens of people who never used the browser (and of the automation
        # client) get an MLflow user on first use; safe because iss and aud are checked.
        "OIDC_PROVISION_ON_BEARER_AUTH": str(oidc["provision_on_bearer_auth"]).lower(),
        # Members of the admin group become MLflow admins at their first bearer call too:
        # that is how the stack's own admin account (offboarding) gets its rights.
        "OIDC_TRUST_BEARER_GROUP_CLAIMS": "true",
        "OIDC_PROVIDER_DISPLAY_NAME": "Keycloak",
        # A browser opening MLflow is sent to Keycloak instead of getting a bare 401.
        "AUTOMATIC_LOGIN_REDIRECT": "true",
    }


def _proxy_envs(proxy: BehindProxy) -> dict[str, pulumi.Input[str]]:
    """Secure session cookies; the proxy's forwarded headers trusted; MLflow's own host and
    origin checks told the public name (its defaults allow only localhost names)."""
    assert proxy["trusted_addresses"] is not None
    public = proxy["public_url"].removeprefix("https://")
    host = public.split(":")[0]
    return {
        "SESSION_COOKIE_SECURE": "true",
        "TRUSTED_PROXIES": proxy["trusted_addresses"],
        # The public name, and what the proxy's loopback listener and Docker's health check use.
        "MLFLOW_SERVER_ALLOWED_HOSTS": ",".join(
            [public, host, f"mlflow:{HTTP_PORT}", "localhost:*", "127.0.0.1:*"]
        ),
        "MLFLOW_SERVER_CORS_ALLOWED_ORIGINS": proxy["public_url"],
    }


class MlflowServer(StackComponent):
    """`mlflow server --app-name oidc-auth` on Postgres, artifacts on a named volume.

    mlflow-oidc-auth keeps its users and permissions in a database of its own (OIDC_USERS_DB_URI)
    so they survive the container being recreated, and a fixed SECRET_KEY so sessions survive
    a restart.
    """

    container: docker.Container
    containers: list[docker.Container]
    artifacts: docker.Volume
    image_ref: pulumi.Output[str]

    def __init__(self, name: str, args: MlflowServerArgs, opts: Options = None) -> None:
        super().__init__(name, opts)
        if args["prebuilt_image"]:
            self.image_ref = local_image(f"{name}-image", args["prebuilt_image"], self)
        else:
            self.image_ref = built_image(
                name,
                repository=args["image_name"],
                context=BUILD_CONTEXT,
                build_args=args["build_args"],
                parent=self,
            )

        # Signs the plugin's session cookies: fixed, so sessions survive a restart.
        secret_key = generated_secret(f"{name}-secret-key", self, length=48)
        self.artifacts = docker.Volume(
            f"{name}-artifacts",
            name=pulumi.Output.concat(args["placement"].container_name, "-artifacts"),
            opts=data_options(self, args["protect_data"]),
        )
        oidc = args["oidc"]
        env: dict[str, pulumi.Input[str]] = dict(
            MLFLOW_BACKEND_STORE_URI=args["backend_store_uri"],
            OIDC_USERS_DB_URI=args["users_db_uri"],
            SECRET_KEY=secret_key,
            # No usage reports leave the machine (and none hang on a closed network).
            MLFLOW_DISABLE_TELEMETRY="true",
            DO_NOT_TRACK="true",
            OIDC_CLIENT_SECRET=oidc["client_secret"],
            **plugin_env(oidc),
            **(_proxy_envs(args["proxy"]) if args["proxy"] else {}),
        )

        def replica(
            resource_name: str, placement: Placement, after: Sequence[pulumi.Resource] = ()
        ) -> docker.Container:
            return service_container(
                resource_name,
                image=self.image_ref,
                placement=placement,
                internal_port=HTTP_PORT,
                # The image's entrypoint is `mlflow`.
                command=server_command(args["workers"], ARTIFACTS_DIR),
                env=env,  # secret: the URIs, the key and the client secret are
                volumes=[
                    docker.ContainerVolumeArgs(
                        volume_name=self.artifacts.name, container_path=DATA_DIR
                    )
                ],
                health=HEALTH,
                parent=self,
                after=after,
            )

        self.container = replica(name, args["placement"])
        self.containers = [self.container]
        for number, placement in enumerate(args["replica_placements"], start=2):
            # After the first is healthy: it alone migrates the databases' schemas.
            self.containers.append(replica(f"{name}-{number}", placement, [self.container]))
        self.register_outputs({"container": self.container.name})

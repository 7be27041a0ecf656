"""The Keycloak server container, in production mode, on its own Postgres."""

from __future__ import annotations

from pathlib import Path
from typing import TypedDict

import pulumi
import pulumi_docker as docker
import pulumi_keycloak as keycloak

from components.docker.app_database import AppDatabase
from components.docker.service_container import (
    HealthCheck,
    Placement,
    built_image,
    http_ready_probe,
    pulled_image,
    service_container,
)
from components.generated import generated_secret
from components.keycloak_app import (
    HTTP_PORT,
    MANAGEMENT_PORT,
    KeycloakAccess,
    admin_access,
    env_name,
    server_options,
)
from components.stack_component import Options, StackComponent, provider_options

# Keycloak's build-time options as the stack runs them, baked into the image it runs by
# `kc.sh build` (images/keycloak-optimized); `kc.sh start --optimized` then never re-augments
# Quarkus, which cost about 15 s (2 vCPUs) at every start of the official image as it is.
BUILD_OPTIONS = {"db": "postgres", "health-enabled": "true", "metrics-enabled": "false"}
BUILD_CONTEXT = Path(__file__).resolve().parents[2] / "images" / "keycloak-optimized"
IMAGE_REPOSITORY = "mlflow-keycloak-stack/keycloak"

READY = HealthCheck(
    http_ready_probe(MANAGEMENT_PORT, "/health/ready"), start_period="30s", wait_timeout=600
)


def optimized_build_args(base_image: str) -> dict[str, str]:
    """images/keycloak-optimized's build args: the image to derive from, and BUILD_OPTIONS as
    `kc.sh build`'s flags."""
    flags = " ".join(f"--{option}={value}" for option, value in BUILD_OPTIONS.items())
    return {"BASE_IMAGE": base_image, "BUILD_OPTIONS": flags}


class KeycloakServerArgs(TypedDict):
    placement: Placement
    # The image the server is derived from (the stack config's keycloakImage).
    image: str
    public_url: str
    database: AppDatabase
    admin_username: str
    # Keycloak as Pulumi, on this host, reaches it (loopback for a wildcard bind; with TLS the
    # edge proxy's loopback listener).
    host_url: str
    proxy: BehindProxy | None
    # Keycloak's brute-force detector lets logins of one user overlap (its SPI option).
    allow_concurrent_logins: bool


class BehindProxy(TypedDict):
    """Keycloak behind the edge proxy: its X-Forwarded-* headers are trusted from its network
    alone; the admin console lives on the proxy's loopback listener."""

    trusted_addresses: pulumi.Input[str] | None
    admin_url: str
    container: docker.Container


def _proxy_envs(proxy: BehindProxy) -> dict[str, pulumi.Input[str]]:
    assert proxy["trusted_addresses"] is not None
    return {
        "KC_PROXY_HEADERS": "xforwarded",
        "KC_PROXY_TRUSTED_ADDRESSES": proxy["trusted_addresses"],
        "KC_HOSTNAME_ADMIN": proxy["admin_url"],
    }


class KeycloakServer(StackComponent):
    """Keycloak (`kc.sh start --optimized`, HTTP on loopback) whose issuer is the browser's URL.

    KC_HOSTNAME is the full browser URL, so tokens carry it as issuer; with
    KC_HOSTNAME_BACKCHANNEL_DYNAMIC the token, userinfo and JWKS endpoints also answer under
    the container name, which is how MLflow reaches Keycloak from inside the network.
    """

    container: docker.Container
    provider: keycloak.Provider
    access: KeycloakAccess
    internal_url: str
    admin_password: pulumi.Output[str]

    def __init__(self, name: str, args: KeycloakServerArgs, opts: Options = None) -> None:
        super().__init__(name, opts)
        self.internal_url = f"http://{args['placement'].alias}:{HTTP_PORT}"
        self.admin_password = generated_secret(f"{name}-admin-password", self)
        db = args["database"]
        # No build option at run time: the image holds them (with --optimized, Keycloak 26.4
        # refuses to start when one set here differs from the image's).
        env: dict[str, pulumi.Input[str]] = dict(
            KC_DB_URL=pulumi.Output.format(
                "jdbc:postgresql://{0}:5432/{1}", db.server.alias, db.database.name
            ),
            KC_DB_USERNAME=db.role.name,
            KC_DB_PASSWORD=db.password,
            KC_BOOTSTRAP_ADMIN_USERNAME=args["admin_username"],
            KC_BOOTSTRAP_ADMIN_PASSWORD=self.admin_password,
            KC_HOSTNAME=args["public_url"],
            KC_HOSTNAME_BACKCHANNEL_DYNAMIC="true",
            KC_HTTP_ENABLED="true",
            KC_HTTP_PORT=str(HTTP_PORT),
            KC_CACHE="local",
            **(_proxy_envs(args["proxy"]) if args["proxy"] else {}),
            **{
                env_name(option): value
                for option, value in server_options(args["allow_concurrent_logins"]).items()
            },
        )
        # The configured image is pulled (or found on this host) as it is named, which keeps its
        # pin checked by the policy pack, then derived from with the build options.
        base = pulled_image(f"{name}-image", args["image"], self)
        image = built_image(
            f"{name}-optimized",
            repository=IMAGE_REPOSITORY,
            context=BUILD_CONTEXT,
            build_args=optimized_build_args(args["image"]),
            parent=self,
            after=[base],
        )
        self.container = service_container(
            name,
            image=image,
            placement=args["placement"],
            internal_port=HTTP_PORT,
            # The options built into the image, as they are: no re-augmentation check at start.
            command=["start", "--optimized"],
            env=env,  # the lines holding a password are secret
            health=READY,
            parent=self,
        )
        self.access = admin_access(
            f"{name}-provider",
            args["host_url"],
            args["admin_username"],
            self.admin_password,
            self,
            provider_options(
                self.container, self, *([args["proxy"]["container"]] if args["proxy"] else [])
            ),
        )
        self.provider = self.access.provider
        self.register_outputs({"container": self.container.name})

    def discovery_url(self, realm: str) -> str:
        """The realm's OIDC discovery document as containers on the network reach it."""
        return f"{self.internal_url}/realms/{realm}/.well-known/openid-configuration"

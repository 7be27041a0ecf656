"""The Keycloak server container, in production mode, on its own Postgres."""

from __future__ import annotations

from typing import TypedDict

import pulumi
import pulumi_docker as docker

from components.generated import generated_secret
from components.service_container import Placement, local_image, service_container

HTTP_PORT = 8080
MANAGEMENT_PORT = 9000

# The official image has no curl: ask the management port with bash's /dev/tcp.
READY_PROBE = (
    f"exec 3<>/dev/tcp/127.0.0.1/{MANAGEMENT_PORT} && "
    "printf 'GET /health/ready HTTP/1.1\\r\\nHost: localhost\\r\\n"
    "Connection: close\\r\\n\\r\\n' >&3"
    " && head -n 1 <&3 | grep -q ' 200 '"
)


class KeycloakServerArgs(TypedDict):
    placement: Placement
    image: pulumi.Input[str]
    public_url: str
    db_host: str
    db_name: pulumi.Input[str]
    db_username: pulumi.Input[str]
    db_password: pulumi.Input[str]
    admin_username: str


class KeycloakServer(pulumi.ComponentResource):
    """Keycloak (`kc.sh start`, HTTP on loopback) whose issuer is the browser's URL.

    KC_HOSTNAME is the full browser URL, so tokens carry it as issuer; with
    KC_HOSTNAME_BACKCHANNEL_DYNAMIC the token, userinfo and JWKS endpoints also answer under
    the container name, which is how MLflow reaches Keycloak from inside the network.
    """

    container: docker.Container
    internal_url: str
    admin_password: pulumi.Output[str]

    def __init__(
        self, name: str, args: KeycloakServerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlflowstack:index:KeycloakServer", name, None, opts)
        self.internal_url = f"http://{args['placement'].alias}:{HTTP_PORT}"
        self.admin_password = generated_secret(f"{name}-admin-password", self)
        envs = pulumi.Output.all(
            args["db_name"], args["db_username"], args["db_password"], self.admin_password
        ).apply(
            lambda v: [
                "KC_DB=postgres",
                f"KC_DB_URL=jdbc:postgresql://{args['db_host']}:5432/{v[0]}",
                f"KC_DB_USERNAME={v[1]}",
                f"KC_DB_PASSWORD={v[2]}",
                f"KC_BOOTSTRAP_ADMIN_USERNAME={args['admin_username']}",
                f"KC_BOOTSTRAP_ADMIN_PASSWORD={v[3]}",
                f"KC_HOSTNAME={args['public_url']}",
                "KC_HOSTNAME_BACKCHANNEL_DYNAMIC=true",
                "KC_HTTP_ENABLED=true",
                f"KC_HTTP_PORT={HTTP_PORT}",
                "KC_HEALTH_ENABLED=true",
                "KC_METRICS_ENABLED=false",
                "KC_CACHE=local",
            ]
        )
        self.container = service_container(
            name,
            placement=args["placement"],
            internal_port=HTTP_PORT,
            image=local_image(f"{name}-image", args["image"], self),
            command=["start"],
            envs=envs,  # secret: derived from secret passwords
            health_test=["CMD", "bash", "-c", READY_PROBE],
            health_start_period="30s",
            wait_timeout=600,
            parent=self,
        )
        self.register_outputs({"container": self.container.name})

    def discovery_url(self, realm: str) -> str:
        """The realm's OIDC discovery document as containers on the network reach it."""
        return f"{self.internal_url}/realms/{realm}/.well-known/openid-configuration"

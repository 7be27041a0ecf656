"""The MLflow tracking server behind mlflow-oidc-auth."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TypedDict

import pulumi
import pulumi_docker as docker

from components.docker.service_container import (
    HealthCheck,
    Placement,
    built_image,
    http_ready_probe,
    local_image,
    service_container,
)
from components.generated import generated_secret
from components.mlflow_app import (
    ARTIFACTS_DIR,
    HOME_DIR,
    HTTP_PORT,
    OidcSettings,
    PublicEndpoint,
    Stores,
    secret_env,
    server_command,
    settings_env,
)
from components.stack_component import Options, StackComponent, data_options
from stackconfig import MlflowConfig

BUILD_CONTEXT = Path(__file__).resolve().parents[2] / "images" / "mlflow"
IMAGE_REPOSITORY = "mlflow-keycloak-stack/mlflow"

HEALTH = HealthCheck(http_ready_probe(HTTP_PORT, "/health"), start_period="20s", wait_timeout=600)


class MlflowServerArgs(TypedDict):
    placement: Placement
    # Further containers of the same server (after the first), each with its own name and
    # alias: the edge proxy balances them; they share the key, the stores and the artifacts.
    replica_placements: Sequence[Placement]
    image_name: str
    prebuilt_image: str | None
    settings: MlflowConfig
    build_args: dict[str, str]
    backend_store_uri: pulumi.Input[str]
    users_db_uri: pulumi.Input[str]
    oidc: OidcSettings
    protect_data: bool
    public: PublicEndpoint | None
    """Behind the edge proxy (with TLS); None: published on the host."""


class MlflowServer(StackComponent):
    """`mlflow server --app-name oidc-auth` (components/mlflow_app.py) in containers on
    Postgres, the artifacts on a named volume."""

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
        stores: Stores = {
            "backend_store_uri": args["backend_store_uri"],
            "users_db_uri": args["users_db_uri"],
            "secret_key": secret_key,
        }
        env = {
            **secret_env(stores, args["oidc"]),
            **settings_env(args["settings"], args["oidc"], args["public"]),
        }

        def replica(
            resource_name: str, placement: Placement, after: Sequence[pulumi.Resource] = ()
        ) -> docker.Container:
            return service_container(
                resource_name,
                image=self.image_ref,
                placement=placement,
                internal_port=HTTP_PORT,
                # The image's entrypoint is `mlflow`.
                command=server_command(args["settings"], ARTIFACTS_DIR),
                env=env,  # secret: the URIs, the key and the client secret are
                volumes=[
                    docker.ContainerVolumeArgs(
                        volume_name=self.artifacts.name, container_path=HOME_DIR
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

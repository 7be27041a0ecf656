"""A PostgreSQL server in a container: one for MLflow, one for Keycloak."""

from __future__ import annotations

from typing import TypedDict

import pulumi
import pulumi_docker as docker
import pulumi_postgresql as postgresql

from components.docker.postgres_major import PostgresMajor
from components.docker.service_container import (
    HealthCheck,
    Placement,
    local_image,
    service_container,
)
from components.generated import generated_secret
from components.stack_component import Options, StackComponent, data_options, provider_options
from stackrules.images import tag_major

DATA_DIR = "/var/lib/postgresql/data"
SUPERUSER = "postgres"


HEALTH = HealthCheck(
    ["CMD", "pg_isready", "-h", "127.0.0.1", "-U", SUPERUSER, "-d", SUPERUSER],
    start_period="5s",
    wait_timeout=180,
)


class PostgresServerArgs(TypedDict):
    placement: Placement
    # postgresImage: its tag begins with the major version (the config checks it).
    image: str
    protect_data: bool
    # Where Pulumi, on this host, reaches the published port (loopback for a wildcard bind).
    host_address: str


class PostgresServer(StackComponent):
    """A Postgres container with its data on a named volume, published on loopback only.

    The host port exists so that Pulumi's postgresql provider (running on the host) can create
    the applications' roles and databases; containers reach it by its network alias.
    """

    container: docker.Container
    volume: docker.Volume
    provider: postgresql.Provider
    alias: str
    host_port: int
    superuser: str
    superuser_password: pulumi.Output[str]

    def __init__(self, name: str, args: PostgresServerArgs, opts: Options = None) -> None:
        super().__init__(name, opts)
        self.alias = args["placement"].alias
        assert args["placement"].host_port is not None, "the postgresql provider needs it"
        self.host_port = args["placement"].host_port
        self.superuser = SUPERUSER

        self.superuser_password = generated_secret(f"{name}-superuser-password", self)
        # Checked first: a new major is refused before its image or container is touched.
        running = tag_major(args["image"])
        assert running is not None, "the config checks that postgresImage's tag has one"
        major = PostgresMajor(
            f"{name}-major", "postgresImage", running, pulumi.ResourceOptions(parent=self)
        )
        self.volume = docker.Volume(
            f"{name}-data",
            name=pulumi.Output.concat(args["placement"].container_name, "-data"),
            opts=data_options(self, args["protect_data"]),
        )
        env: dict[str, pulumi.Input[str]] = dict(
            POSTGRES_USER=SUPERUSER,
            POSTGRES_PASSWORD=self.superuser_password,
            POSTGRES_DB=SUPERUSER,
            PGDATA=DATA_DIR,
        )
        self.container = service_container(
            name,
            image=local_image(f"{name}-image", args["image"], self, after=[major]),
            placement=args["placement"],
            internal_port=5432,
            env=env,  # POSTGRES_PASSWORD=... is secret, like the password it holds
            volumes=[
                docker.ContainerVolumeArgs(volume_name=self.volume.name, container_path=DATA_DIR)
            ],
            health=HEALTH,
            parent=self,
        )
        # Manages what lives inside this server (roles, databases); usable once it is healthy.
        self.provider = postgresql.Provider(
            f"{name}-provider",
            host=args["host_address"],
            port=self.host_port,
            username=SUPERUSER,
            password=self.superuser_password,
            database=SUPERUSER,
            sslmode="disable",
            superuser=True,
            opts=provider_options(self.container, self),
        )
        self.register_outputs({"container": self.container.name, "volume": self.volume.name})

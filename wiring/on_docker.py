"""The stack on this host's Docker engine: networks, the two Postgres servers, Keycloak, MLflow
and, with TLS, the edge proxy; then the realm through Keycloak's published port."""

from __future__ import annotations

import pulumi
import pulumi_docker as docker

from components.docker.app_database import AppDatabase
from components.docker.edge_proxy import EdgeProxy, Sites
from components.docker.keycloak_server import KeycloakServer
from components.docker.mlflow_server import IMAGE_REPOSITORY as MLFLOW_IMAGE_REPOSITORY
from components.docker.mlflow_server import MlflowServer
from components.docker.postgres_server import PostgresServer
from components.docker.service_container import Placement
from components.keycloak_app import HTTP_PORT as KEYCLOAK_HTTP_PORT
from components.mlflow_app import ARTIFACTS_DIR
from components.mlflow_app import HTTP_PORT as MLFLOW_HTTP_PORT
from stackconfig import StackConfig
from stackrules.addresses import all_but_gateway
from stackrules.names import resource_prefix
from stackrules.outputs import Output
from wiring.identity import (
    declare_identity,
    declare_mlflow_access,
    export_identity,
    mlflow_client_secret,
    mlflow_oidc,
)


def edge(network: docker.Network | None) -> list[docker.Network]:
    return [network] if network else []


def proxy_side(network: docker.Network) -> pulumi.Output[str]:
    """The addresses of the edge `network` a service may take forwarded headers from: all that
    Docker gave it but its gateway, which is the host itself (stackrules.addresses)."""
    found: pulumi.Output[str] = network.ipam_configs.apply(
        lambda configs: ",".join(all_but_gateway(str(configs[0].subnet), str(configs[0].gateway)))
    )
    return found


class Host:
    """Where each service sits on this host: its container name, networks and published port."""

    def __init__(self, cfg: StackConfig) -> None:
        self.cfg = cfg
        self.prefix = resource_prefix(pulumi.get_stack())

    def placed(
        self,
        alias: str,
        host_port: int | None,
        networks: list[docker.Network],
        bind_address: str | None = None,
    ) -> Placement:
        """A service on `networks`, known by its alias, published on the bind address."""
        return Placement(
            container_name=f"{self.prefix}-{alias}",
            network_names=[joined.name for joined in networks],
            alias=alias,
            bind_address=bind_address or self.cfg.bind_address,
            host_port=host_port,
        )

    def service(self, alias: str, port: int, networks: list[docker.Network]) -> Placement:
        """MLflow or Keycloak: published on `port` without TLS; with it only the edge proxy
        publishes, and the service is reached on its edge network alone."""
        return self.placed(alias, None if self.cfg.tls != "off" else port, networks)

    def postgres(self, name: str, alias: str, port: int, network: docker.Network) -> PostgresServer:
        return PostgresServer(
            name,
            {
                "placement": self.placed(alias, port, [network], self.cfg.database_bind_address),
                "image": self.cfg.postgres_image,
                "protect_data": self.cfg.protect_data,
                "host_address": self.cfg.database_bind_address,
            },
        )

    def database(self, name: str, server: PostgresServer, db_name: str) -> AppDatabase:
        """An application's own database and login role (both named db_name) on server."""
        return AppDatabase(
            name,
            {
                "server": server,
                "database": db_name,
                "role": db_name,
                "protect": self.cfg.protect_data,
            },
        )


def deploy(cfg: StackConfig) -> None:
    host = Host(cfg)
    prefix = host.prefix
    # Keycloak and MLflow meet on the service network; each database server shares a network
    # with its one client only, so MLflow cannot reach Keycloak's database, nor Keycloak
    # MLflow's.
    network = docker.Network("network", name=f"{prefix}-net", driver="bridge")
    mlflow_db_network = docker.Network("mlflow-db-network", name=f"{prefix}-mlflow-db-net")
    keycloak_db_network = docker.Network("keycloak-db-network", name=f"{prefix}-keycloak-db-net")
    # With TLS, the edge proxy shares a network with each service alone: that network is the
    # only address range whose X-Forwarded-* headers Keycloak and MLflow trust.
    tls = cfg.tls != "off"
    keycloak_edge = (
        docker.Network("keycloak-edge-network", name=f"{prefix}-keycloak-edge-net") if tls else None
    )
    mlflow_edge = (
        docker.Network("mlflow-edge-network", name=f"{prefix}-mlflow-edge-net") if tls else None
    )

    # MLflow's servers by their aliases: `mlflow`, then `mlflow-2`, ... (the proxy's upstreams).
    mlflow_aliases = ["mlflow", *(f"mlflow-{n}" for n in range(2, cfg.replicas + 1))]

    mlflow_pg = host.postgres("mlflow-postgres", "mlflow-db", cfg.mlflow_db_port, mlflow_db_network)
    keycloak_pg = host.postgres(
        "keycloak-postgres", "keycloak-db", cfg.keycloak_db_port, keycloak_db_network
    )
    tracking_db = host.database("mlflow-tracking", mlflow_pg, "mlflow")
    auth_db = host.database("mlflow-auth", mlflow_pg, "mlflow_auth")
    keycloak_db = host.database("keycloak-store", keycloak_pg, "keycloak")

    proxy = (
        EdgeProxy(
            "proxy",
            {
                "sites": Sites(
                    mode=cfg.tls,
                    mlflow_host=cfg.mlflow_hostname,
                    keycloak_host=cfg.keycloak_hostname,
                    https_port=cfg.https_port,
                    realm=cfg.realm,
                    mlflow_upstreams=tuple(
                        f"{alias}:{MLFLOW_HTTP_PORT}" for alias in mlflow_aliases
                    ),
                    keycloak_upstream=f"keycloak:{KEYCLOAK_HTTP_PORT}",
                    acme_email=cfg.acme_email,
                    acme_ca=cfg.acme_ca,
                    acme_ca_root=cfg.acme_ca_root,
                ),
                "image": cfg.proxy_image,
                "container_name": f"{prefix}-proxy",
                "networks": [*edge(keycloak_edge), *edge(mlflow_edge)],
                "bind_address": cfg.bind_address,
                "https_port": cfg.https_port,
                "http_port": cfg.http_port,
                "keycloak_port": cfg.keycloak_port,
                "mlflow_port": cfg.mlflow_port,
                "certificate": cfg.tls_certificate,
                "key": cfg.tls_key,
                "protect_data": cfg.protect_data,
            },
        )
        if tls
        else None
    )

    keycloak_server = KeycloakServer(
        "keycloak",
        {
            "placement": host.service(
                "keycloak", cfg.keycloak_port, [network, keycloak_db_network, *edge(keycloak_edge)]
            ),
            "proxy": {
                "trusted_addresses": proxy_side(keycloak_edge),
                "admin_url": cfg.urls.keycloak_from_host,
                "container": proxy.container,
            }
            if proxy and keycloak_edge
            else None,
            "image": cfg.keycloak_image,
            "public_url": cfg.urls.keycloak,
            "database": keycloak_db,
            "admin_username": cfg.keycloak_admin_username,
            "host_url": cfg.urls.keycloak_from_host,
            "allow_concurrent_logins": cfg.brute_force_allow_concurrent_logins,
        },
    )
    access = keycloak_server.access
    client_secret = mlflow_client_secret()
    identity = declare_identity(cfg, access, client_secret)

    mlflow = MlflowServer(
        "mlflow",
        {
            "placement": host.service(
                "mlflow", cfg.mlflow_port, [network, mlflow_db_network, *edge(mlflow_edge)]
            ),
            "replica_placements": [
                host.placed(alias, None, [network, mlflow_db_network, *edge(mlflow_edge)])
                for alias in mlflow_aliases[1:]
            ],
            "public": {
                "public_url": cfg.urls.mlflow,
                "trusted_proxies": proxy_side(mlflow_edge),
                "service_host": mlflow_aliases[0],
            }
            if mlflow_edge
            else None,
            "image_name": MLFLOW_IMAGE_REPOSITORY,
            "prebuilt_image": cfg.mlflow_image,
            "settings": cfg,
            "build_args": cfg.mlflow_build_args,
            "backend_store_uri": tracking_db.uri(),
            "users_db_uri": auth_db.uri(),
            "oidc": mlflow_oidc(cfg, keycloak_server.discovery_url(cfg.realm), client_secret),
            "protect_data": cfg.protect_data,
        },
    )
    declare_mlflow_access(cfg, identity, [mlflow, *([proxy] if proxy else [])])

    export_identity(cfg, identity, access)
    pulumi.export(Output.MLFLOW_DB_PORT, cfg.mlflow_db_port)
    pulumi.export(Output.KEYCLOAK_DB_PORT, cfg.keycloak_db_port)
    if proxy and proxy.root_ca_certificate:
        pulumi.export(Output.ROOT_CA_CERTIFICATE, proxy.root_ca_certificate)
    # What `stackctl backup` copies and `stackctl restore` puts back (no secret in it).
    pulumi.export(
        Output.DATA_STORES,
        {
            "databases": [
                tracking_db.store("tracking"),
                auth_db.store("permissions"),
                keycloak_db.store("identities"),
            ],
            "artifacts": {"container": mlflow.container.name, "path": ARTIFACTS_DIR},
            "services": [
                keycloak_server.container.name,
                *(container.name for container in mlflow.containers),
            ],
        },
    )

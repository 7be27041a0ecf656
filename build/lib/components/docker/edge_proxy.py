"""The edge proxy (Caddy): HTTPS for MLflow and Keycloak on hostnames of their own.

Only the proxy publishes MLflow's and Keycloak's ports. On `bindAddress`:
- HTTPS (`httpsPort`): MLflow on `mlflowHostname`; Keycloak on `keycloakHostname` with only
  its public paths (`/realms/<realm>/`, `/resources/`), never `/admin/`; HSTS on both;
- plain HTTP (`httpPort`): a permanent redirect to HTTPS.
On 127.0.0.1 only, for this host's own tools (the Pulumi keycloak provider, offboarding,
stackctl): all of Keycloak, admin API and console included (`keycloakPort`), and MLflow
(`mlflowPort`), in plain HTTP.

Caddy replaces any X-Forwarded-* a client sends with what it saw itself, so Keycloak and
MLflow, which trust these headers from the proxy's network only, log the real peer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypedDict

import pulumi
import pulumi_docker as docker

from components.docker.certificates import CertificateAuthority, SiteCertificate
from components.docker.service_container import (
    HealthCheck,
    Placement,
    local_image,
    service_container,
)
from components.keycloak_app import public_paths
from components.stack_component import Options, StackComponent, data_options
from stackrules.names import (
    EDGE_PROXY_CONFIG_PATH,
    EDGE_PROXY_HTTPS_PORT,
    EDGE_PROXY_REDIRECT_PORT,
    EDGE_PROXY_ROLE,
    ROLE_LABEL,
)

CONFIG_PATH = EDGE_PROXY_CONFIG_PATH
CERT_PATH = "/etc/caddy/tls/site.crt"
KEY_PATH = "/etc/caddy/tls/site.key"
ACME_CA_ROOT_PATH = "/etc/caddy/tls/acme-ca-root.crt"
DATA_DIR = "/data"
# The proxy's ports inside its container; the published ones come from the config.
HTTPS, HTTP = EDGE_PROXY_HTTPS_PORT, EDGE_PROXY_REDIRECT_PORT
KEYCLOAK_LOCAL, MLFLOW_LOCAL, READY = 8081, 8082, 8079
HEALTH = HealthCheck(
    ["CMD", "wget", "-q", "-O", "/dev/null", f"http://127.0.0.1:{READY}/"],
    start_period="5s",
    wait_timeout=120,
)
HSTS = 'header ?Strict-Transport-Security "max-age=31536000"'


@dataclass(frozen=True)
class Sites:
    """What the proxy serves: the mode, the hostnames, the ports seen from outside."""

    mode: str  # internal | files | acme
    mlflow_host: str
    keycloak_host: str
    https_port: int
    realm: str
    mlflow_upstreams: tuple[str, ...]
    """MLflow's servers (host:port); several are balanced round robin."""
    keycloak_upstream: str
    acme_email: str | None = None
    acme_ca: str | None = None
    """A private ACME directory (None: Caddy's public defaults)."""
    acme_ca_root: str | None = None
    """The PEM root the ACME server's own HTTPS is verified with (uploaded beside)."""


def mlflow_proxy(upstreams: tuple[str, ...]) -> list[str]:
    """Caddyfile lines that pass requests to MLflow: one server as it is, several in turn
    (any of them serves any session: they share the SECRET_KEY and the session store)."""
    if len(upstreams) == 1:
        return [f"\treverse_proxy {upstreams[0]}"]
    return [
        f"\treverse_proxy {' '.join(upstreams)} {{",
        "\t\tlb_policy round_robin",
        # A replica that refuses connections (restarting) is skipped, not shown as an error.
        "\t\tlb_try_duration 5s",
        "\t}",
    ]


def caddyfile(sites: Sites) -> str:
    """The Caddyfile of the proxy (Caddy 2.6 and later)."""
    acme = sites.mode == "acme"
    options = (
        [
            f"\temail {sites.acme_email}",
            *([f"\tacme_ca {sites.acme_ca}"] if sites.acme_ca else []),
            *([f"\tacme_ca_root {ACME_CA_ROOT_PATH}"] if sites.acme_ca_root else []),
        ]
        if acme
        else ["\tauto_https off", "\tocsp_stapling off"]
    )
    tls = "" if acme else f"\ttls {CERT_PATH} {KEY_PATH}\n"
    scheme = "" if acme else "https://"
    return "\n".join(
        [
            "{",
            "\tadmin off",
            *options,
            "\tservers {",
            "\t\tprotocols h1 h2",
            "\t}",
            "}",
            f"{scheme}{sites.mlflow_host} {{",
            f"{tls}\t{HSTS}",
            *mlflow_proxy(sites.mlflow_upstreams),
            "}",
            f"{scheme}{sites.keycloak_host} {{",
            f"{tls}\t{HSTS}",
            f"\t@public path {' '.join(f'{path}*' for path in public_paths(sites.realm))}",
            "\thandle @public {",
            f"\t\treverse_proxy {sites.keycloak_upstream}",
            "\t}",
            "\thandle {",
            "\t\trespond 404",
            "\t}",
            "}",
            *(
                []
                if acme
                else [
                    f"http://:{HTTP} {{",
                    f"\tredir https://{{host}}:{sites.https_port}{{uri}} permanent",
                    "}",
                ]
            ),
            f"http://:{KEYCLOAK_LOCAL} {{",
            f"\treverse_proxy {sites.keycloak_upstream}",
            "}",
            f"http://:{MLFLOW_LOCAL} {{",
            *mlflow_proxy(sites.mlflow_upstreams),
            "}",
            f"http://:{READY} {{",
            '\trespond "ready"',
            "}",
            "",
        ]
    )


class EdgeProxyArgs(TypedDict):
    sites: Sites
    image: str
    container_name: pulumi.Input[str]
    networks: list[docker.Network]
    bind_address: str
    https_port: int
    http_port: int
    keycloak_port: int
    mlflow_port: int
    # files mode: the PEM chain and key from the stack config (secret)
    certificate: pulumi.Input[str] | None
    key: pulumi.Input[str] | None
    protect_data: bool


class EdgeProxy(StackComponent):
    """Caddy with a generated Caddyfile; in `internal` mode also the stack's CA and the site
    certificate it signs (`root_ca_certificate`)."""

    container: docker.Container
    root_ca_certificate: pulumi.Output[str] | None

    def __init__(self, name: str, args: EdgeProxyArgs, opts: Options = None) -> None:
        super().__init__(name, opts)
        sites = args["sites"]
        uploads = [docker.ContainerUploadArgs(file=CONFIG_PATH, content=caddyfile(sites))]
        self.root_ca_certificate = None
        certificate, key = args["certificate"], args["key"]
        if sites.mode == "internal":
            hostnames = [sites.mlflow_host, sites.keycloak_host]
            authority = CertificateAuthority(
                f"{name}-ca", f"MLflow stack CA ({pulumi.get_stack()})", hostnames, self.child
            )
            site = SiteCertificate(f"{name}-certificate", authority, hostnames, self.child)
            self.root_ca_certificate = authority.cert_pem
            certificate, key = site.cert_pem, site.key_pem
        if sites.mode != "acme":
            assert certificate is not None and key is not None, "files mode needs both"
            uploads += [
                docker.ContainerUploadArgs(file=CERT_PATH, content=certificate),
                docker.ContainerUploadArgs(file=KEY_PATH, content=pulumi.Output.secret(key)),
            ]
        if sites.acme_ca_root:
            uploads.append(
                docker.ContainerUploadArgs(file=ACME_CA_ROOT_PATH, content=sites.acme_ca_root)
            )
        # ACME account and certificates must outlive the container.
        data = docker.Volume(
            f"{name}-data",
            name=pulumi.Output.concat(args["container_name"], "-data"),
            opts=data_options(self, args["protect_data"]),
        )
        bind = args["bind_address"]
        self.container = service_container(
            name,
            image=local_image(f"{name}-image", args["image"], self),
            placement=Placement(
                container_name=args["container_name"],
                network_names=[network.name for network in args["networks"]],
                alias=name,
                bind_address=bind,
                host_port=args["https_port"],
            ),
            internal_port=HTTPS,
            published=[
                (bind, args["http_port"], HTTP),
                ("127.0.0.1", args["keycloak_port"], KEYCLOAK_LOCAL),
                ("127.0.0.1", args["mlflow_port"], MLFLOW_LOCAL),
            ],
            env={},
            health=HEALTH,
            volumes=[docker.ContainerVolumeArgs(volume_name=data.name, container_path=DATA_DIR)],
            uploads=uploads,
            # What the policy pack recognises as the one container allowed beyond loopback.
            labels={ROLE_LABEL: EDGE_PROXY_ROLE},
            parent=self,
        )
        self.register_outputs({})

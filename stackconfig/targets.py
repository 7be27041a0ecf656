"""Where the services run: containers on this Docker host, or a Kubernetes cluster with the
Keycloak Operator and CloudNativePG (the `kubernetes` block)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Literal
from urllib.parse import unquote, urlsplit

from pydantic import Field, field_validator

from stackconfig.base import ConfigModel
from stackconfig.types import DnsLabel, Hostname, IpAddress, Port, PostgresUrl, Quantity

# Addresses the pods of a typical cluster (and so its ingress controller) have.
DEFAULT_TRUSTED_PROXIES = "10.0.0.0/8"


class DockerHostConfig(ConfigModel):
    """Where the Docker target publishes the services on this host."""

    bind_address: IpAddress = "127.0.0.1"
    """Host address MLflow's and Keycloak's ports bind to. Keep loopback unless you know why;
    the Postgres servers are published on 127.0.0.1 whatever this says."""
    public_hostname: Hostname = "localhost"
    """Host name the browser uses for Keycloak and MLflow (the token issuer's host)."""
    keycloak_port: Port = 8080
    """Host port of Keycloak (browser and the Pulumi keycloak provider). With TLS: the edge
    proxy's plain-HTTP listener of all of Keycloak, admin API included, on 127.0.0.1 only."""
    mlflow_port: Port = 5000
    """Host port of MLflow. With TLS: the edge proxy's plain-HTTP listener of MLflow for this
    host's own tools (offboarding, stackctl), on 127.0.0.1 only."""
    mlflow_db_port: Port = 15432
    """Host port of MLflow's Postgres (loopback; used by the Pulumi postgresql provider)."""
    keycloak_db_port: Port = 15433
    """Host port of Keycloak's Postgres (loopback; used by the Pulumi postgresql provider)."""

    @property
    def database_bind_address(self) -> str:
        """Postgres is published on loopback only: just this host's Pulumi providers (and an
        operator's tools) connect to it, never another machine."""
        return "127.0.0.1"

    @property
    def local_address(self) -> str:
        """Where this host reaches the published ports (a wildcard bind is reached on loopback)."""
        wildcard = {"0.0.0.0": "127.0.0.1", "::": "::1"}
        return wildcard.get(self.bind_address, self.bind_address)


@dataclass(frozen=True)
class PostgresAddress:
    """A Postgres connection URL's parts (the password a secret)."""

    host: str
    port: int
    database: str
    username: str
    password: str


class ExternalDatabases(ConfigModel):
    """Managed Postgres databases instead of CloudNativePG clusters: one secret connection URL
    each (`pulumi config set --secret --path kubernetes.externalDatabases.tracking URL`)."""

    tracking: PostgresUrl
    """MLflow's runs, metrics and params."""
    permissions: PostgresUrl
    """mlflow-oidc-auth's users, sessions and permissions (a database of its own)."""
    identities: PostgresUrl
    """Keycloak's database."""

    @property
    def identities_address(self) -> PostgresAddress:
        """Keycloak's database as its operator takes it: host, port, database and a login."""
        parts = urlsplit(self.identities)
        return PostgresAddress(
            host=parts.hostname or "",
            port=parts.port or 5432,
            database=parts.path.lstrip("/"),
            username=unquote(parts.username or ""),
            password=unquote(parts.password or ""),
        )


class S3Artifacts(ConfigModel):
    """Artifacts on S3-compatible storage, shared by every MLflow replica."""

    bucket: str
    """Bucket (and optional prefix): `my-bucket` or `my-bucket/mlflow`."""
    endpoint_url: str | None = None
    """S3 endpoint of a non-AWS store (MinIO, Ceph, ...); unset: AWS."""
    region: str | None = None
    """The bucket's region (AWS_DEFAULT_REGION)."""
    access_key_id: str
    """Set it as a secret: pulumi config set --secret --path kubernetes.artifacts.accessKeyId."""
    secret_access_key: str
    """Set it as a secret (--secret --path kubernetes.artifacts.secretAccessKey)."""

    @field_validator("bucket")
    @classmethod
    def _bucket(cls, value: str) -> str:
        if not re.match(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[^\s]*)?$", value):
            raise ValueError("must be an S3 bucket name (lower case), optionally /prefix")
        return value

    @field_validator("endpoint_url")
    @classmethod
    def _endpoint(cls, value: str | None) -> str | None:
        if value is not None and urlsplit(value).scheme not in ("http", "https"):
            raise ValueError("must be an http(s) URL like https://minio.example.com")
        return value

    @property
    def destination(self) -> str:
        return f"s3://{self.bucket}"


class KubernetesSpec(ConfigModel):
    """The stack on a Kubernetes cluster that runs CloudNativePG (and the Keycloak Operator
    with keycloakWorkload: operator)."""

    namespace: DnsLabel = "mlflow"
    """Namespace of every object of the stack (created by the stack)."""
    kubeconfig: str | None = None
    """Path of the kubeconfig (unset: $KUBECONFIG or ~/.kube/config)."""
    context: str | None = None
    """Context of the kubeconfig (unset: its current context)."""
    render_dir: str | None = None
    """Write every manifest into this directory instead of applying it (the provider's
    renderYamlToDirectory); the cluster is not contacted, and the realm is not configured.
    The Secrets are written too, their values only base64-encoded: keep the directory private
    and out of version control."""
    profile: Literal["production", "dev"] = "production"
    """production: 3 Postgres instances per database; dev: 1."""
    postgres_instances: Annotated[int, Field(ge=1, le=9)] | None = None
    """Instances of each CloudNativePG cluster (unset: by profile, 3 or 1)."""
    storage_size: Quantity = "10Gi"
    """Volume size of each Postgres instance."""
    storage_class: str | None = None
    """Storage class of the Postgres volumes (unset: the cluster's default)."""
    external_databases: ExternalDatabases | None = None
    """Managed Postgres instead of CloudNativePG: {tracking, permissions, identities}, each a
    secret URL."""
    keycloak_workload: Literal["statefulset", "operator"] = "statefulset"
    """Who runs Keycloak. statefulset: the stack's own StatefulSet and Services (nothing to
    install first, no cluster-admin: the default, and the mode proven on a real node);
    operator: the Keycloak Operator's `Keycloak` resource (the operator and its CRDs must be
    installed)."""
    keycloak_instances: Annotated[int, Field(ge=1, le=9)] = 2
    """Keycloak pods (they cluster over the database: the jdbc-ping cache stack)."""
    keycloak_image: str | None = None
    """Keycloak image (unset: the image pinned by this project)."""
    redis_url: str | None = None
    """Redis for mlflow-oidc-auth's permission cache (CACHE_BACKEND=redis), so a permission
    change reaches every replica at once; unset with several replicas: each replica's cache
    expires on its own. Set it as a secret when it carries a password."""
    ingress_class: str = "nginx"
    """IngressClass of the Ingress (MLflow and Keycloak on mlflowHostname, keycloakHostname)."""
    ingress_certificate: str | None = None
    """A kubernetes.io/tls Secret in the namespace with a certificate for both host names."""
    cert_manager_issuer: str | None = None
    """A cert-manager ClusterIssuer that certifies both host names (or ingressCertificate)."""
    trusted_proxies: str = DEFAULT_TRUSTED_PROXIES
    """Address range of the ingress controller's pods, whose X-Forwarded-* headers MLflow
    (TRUSTED_PROXIES) and Keycloak (proxy-trusted-addresses) trust."""
    artifacts: S3Artifacts | None = None
    """S3-compatible artifact store {bucket, endpointUrl, region, accessKeyId, secretAccessKey}
    (required: the replicas share it)."""
    configure_realm: bool = True
    """Declare the realm, clients, groups, users and MLflow permissions through Keycloak's admin
    API (keycloakAdminUrl). false: only the workloads (e.g. to render manifests)."""
    keycloak_admin_url: str = "http://127.0.0.1:8080"
    """Where this host reaches Keycloak's admin API, which the Ingress does not route: e.g.
    `kubectl -n NAMESPACE port-forward service/keycloak-service 8080`."""

    @property
    def realm_admin_url(self) -> str | None:
        """Where the stack configures the realm from; None when it does not (configureRealm
        false, or manifests rendered to renderDir: no cluster is contacted)."""
        if not self.configure_realm or self.render_dir:
            return None
        return self.keycloak_admin_url.rstrip("/")

    @property
    def instances(self) -> int:
        """Instances of each CloudNativePG cluster."""
        if self.postgres_instances is not None:
            return self.postgres_instances
        return 3 if self.profile == "production" else 1


class TargetConfig(ConfigModel):
    """Which target the stack runs on."""

    target: Literal["docker", "kubernetes"] = "docker"
    """Where the services run: docker (containers on this host) or kubernetes (a cluster with
    the Keycloak Operator and CloudNativePG; the `kubernetes` block)."""
    kubernetes: KubernetesSpec | None = None
    """With target kubernetes: {namespace, kubeconfig, context, renderDir, profile,
    postgresInstances, storageSize, storageClass, externalDatabases, keycloakWorkload,
    keycloakInstances,
    keycloakImage, mlflowReplicas, redisUrl, ingressClass, ingressCertificate, certManagerIssuer,
    trustedProxies, artifacts, configureRealm, keycloakAdminUrl} (docs/kubernetes.md)."""

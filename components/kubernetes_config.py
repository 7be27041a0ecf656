"""The `kubernetes` config block: where and how the stack runs when `target` is kubernetes.

Part of the stack's one config model (components/config.py reads and validates it); kept apart
because it is a concern of its own: cluster, operators, replicas, ingress and object storage.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from components.config_model import ConfigModel

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$")
# Addresses the pods of a typical cluster (and so its ingress controller) have.
DEFAULT_TRUSTED_PROXIES = "10.0.0.0/8"


def _postgres_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("postgresql", "postgres") or not parts.hostname or not parts.path[1:]:
        # The value is a secret: say what is wrong with it, never repeat it.
        raise ValueError(
            "must be a URL like postgresql://USER:PASSWORD@HOST:5432/DATABASE (the value is "
            "not shown: it is a secret)"
        )
    if not parts.username or parts.password is None:
        raise ValueError("must carry the user and password (postgresql://USER:PASSWORD@HOST/DB)")
    return value


class ExternalDatabases(ConfigModel):
    """Managed Postgres databases instead of CloudNativePG clusters: one secret connection URL
    each (`pulumi config set --secret --path kubernetes.externalDatabases.tracking URL`)."""

    tracking: str
    """MLflow's runs, metrics and params."""
    permissions: str
    """mlflow-oidc-auth's users, sessions and permissions (a database of its own)."""
    identities: str
    """Keycloak's database."""

    @field_validator("tracking", "permissions", "identities")
    @classmethod
    def _url(cls, value: str) -> str:
        return _postgres_url(value)


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
    """The stack on a Kubernetes cluster that runs the Keycloak Operator and CloudNativePG."""

    namespace: str = "mlflow"
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
    storage_size: str = "10Gi"
    """Volume size of each Postgres instance."""
    storage_class: str | None = None
    """Storage class of the Postgres volumes (unset: the cluster's default)."""
    external_databases: ExternalDatabases | None = None
    """Managed Postgres instead of CloudNativePG: {tracking, permissions, identities}, each a
    secret URL."""
    keycloak_instances: Annotated[int, Field(ge=1, le=9)] = 2
    """Keycloak pods (they cluster over the database: the jdbc-ping cache stack)."""
    keycloak_image: str | None = None
    """Keycloak image for the operator (unset: the image pinned by this project)."""
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
    trusts (TRUSTED_PROXIES)."""
    artifacts: S3Artifacts | None = None
    """S3-compatible artifact store {bucket, endpointUrl, region, accessKeyId, secretAccessKey}
    (required: the replicas share it)."""
    configure_realm: bool = True
    """Declare the realm, clients, groups, users and MLflow permissions through Keycloak's admin
    API (keycloakAdminUrl). false: only the workloads (e.g. to render manifests)."""
    keycloak_admin_url: str = "http://127.0.0.1:8080"
    """Where this host reaches Keycloak's admin API, which the Ingress does not route: e.g.
    `kubectl -n NAMESPACE port-forward service/keycloak-service 8080`."""

    @field_validator("namespace")
    @classmethod
    def _namespace(cls, value: str) -> str:
        if not DNS_LABEL.match(value):
            raise ValueError("must be a DNS label: lower-case letters, digits and '-' (at most 63)")
        return value

    @field_validator("storage_size")
    @classmethod
    def _quantity(cls, value: str) -> str:
        if not QUANTITY.match(value):
            raise ValueError("must be a Kubernetes quantity like 10Gi")
        return value

    @property
    def instances(self) -> int:
        """Instances of each CloudNativePG cluster."""
        if self.postgres_instances is not None:
            return self.postgres_instances
        return 3 if self.profile == "production" else 1


def kubernetes_errors(spec: KubernetesSpec | None, mlflow_image: str | None) -> list[str]:
    """What the kubernetes target needs beyond each key's own bounds."""
    if spec is None:
        return [
            "kubernetes: required with target = 'kubernetes'. Fix: pulumi config set --path "
            "kubernetes.namespace mlflow (and the keys the README's Kubernetes section lists)"
        ]
    errors: list[str] = []
    if not mlflow_image:
        errors.append(
            "mlflowImage: required with target = 'kubernetes' (a cluster pulls its images from a "
            "registry). Fix: build images/mlflow, push it, pulumi config set mlflowImage "
            "registry.example.com/mlflow-oidc:TAG"
        )
    if (spec.ingress_certificate is None) == (spec.cert_manager_issuer is None):
        errors.append(
            "kubernetes.ingressCertificate / kubernetes.certManagerIssuer: give exactly one "
            "(the Ingress serves HTTPS only). Fix: pulumi config set --path "
            "kubernetes.ingressCertificate mlflow-tls"
        )
    if spec.artifacts is None:
        errors.append(
            "kubernetes.artifacts: required (MLflow's replicas share one artifact store). Fix: "
            "pulumi config set --path kubernetes.artifacts.bucket my-bucket, and the keys "
            "accessKeyId and secretAccessKey with --secret"
        )
    if spec.redis_url is not None and urlsplit(spec.redis_url).scheme not in ("redis", "rediss"):
        errors.append(
            "kubernetes.redisUrl: must be a redis:// or rediss:// URL (the value is not shown). "
            "Fix: pulumi config set --secret --path kubernetes.redisUrl redis://HOST:6379/0"
        )
    return errors

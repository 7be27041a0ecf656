"""The stack on a Kubernetes cluster: CloudNativePG clusters (or managed Postgres), Keycloak (the
stack's StatefulSet, or the Keycloak Operator's `Keycloak`), MLflow's replicated Deployment and
one Ingress; then the same realm as on Docker, through Keycloak's admin API
(kubernetes.keycloakAdminUrl)."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components.keycloak_app import HTTP_PORT as KEYCLOAK_HTTP_PORT
from components.kubernetes.keycloak_cluster import KeycloakCluster
from components.kubernetes.keycloak_statefulset import KeycloakStatefulSet
from components.kubernetes.keycloak_workload import KeycloakDatabase
from components.kubernetes.mlflow_deployment import MlflowDeployment
from components.kubernetes.postgres_cluster import PORT as POSTGRES_PORT
from components.kubernetes.postgres_cluster import PostgresCluster, basic_auth_secret
from components.kubernetes.public_ingress import PublicIngress
from components.mlflow_app import HTTP_PORT as MLFLOW_HTTP_PORT
from stackconfig import KubernetesSpec, StackConfig
from stackrules.outputs import Output
from stackrules.versions import pin
from wiring.identity import (
    declare_identity,
    declare_mlflow_access,
    export_identity,
    export_services,
    mlflow_client_secret,
    mlflow_oidc,
)

MLFLOW_APP = "mlflow"
# The API server admits only pods that meet the `restricted` Pod Security Standard in the
# stack's namespace (non-root, no privilege escalation, no capabilities, a seccomp profile):
# every pod of the stack declares those fields, and a pod that does not is refused.
NAMESPACE_LABELS = {
    "app.kubernetes.io/part-of": "mlflow",
    **{f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "warn", "audit")},
}
KEYCLOAK_NAME = "keycloak"


def cluster_provider(spec: KubernetesSpec) -> k8s.Provider:
    """The cluster from the kubeconfig, or manifests written to renderDir (nothing contacted)."""
    return k8s.Provider(
        "kubernetes-provider",
        kubeconfig=spec.kubeconfig,
        context=spec.context,
        render_yaml_to_directory=spec.render_dir,
        namespace=spec.namespace,
        # Server-side apply: field ownership shows who changed what (kubectl edits included).
        enable_server_side_apply=True,
    )


def deploy(cfg: StackConfig) -> None:
    spec = cfg.kubernetes
    assert spec is not None and spec.artifacts is not None and cfg.mlflow_image is not None
    provider = cluster_provider(spec)
    on_cluster = pulumi.ResourceOptions(providers={"kubernetes": provider})
    namespace = k8s.core.v1.Namespace(
        "namespace",
        metadata={"name": spec.namespace, "labels": NAMESPACE_LABELS},
        opts=on_cluster,
    )
    ns = namespace.metadata["name"]
    in_namespace = on_cluster.merge(pulumi.ResourceOptions(depends_on=[namespace]))

    external = spec.external_databases
    if external is None:
        mlflow_db = PostgresCluster(
            "mlflow-postgres",
            {
                "namespace": ns,
                "cluster_name": "mlflow-db",
                "instances": spec.instances,
                "storage_size": spec.storage_size,
                "storage_class": spec.storage_class,
                "databases": [
                    {"database": "mlflow", "owner": "mlflow"},
                    {"database": "mlflow_auth", "owner": "mlflow_auth"},
                ],
                "protect_data": cfg.protect_data,
            },
            in_namespace,
        )
        keycloak_db = PostgresCluster(
            "keycloak-postgres",
            {
                "namespace": ns,
                "cluster_name": "keycloak-db",
                "instances": spec.instances,
                "storage_size": spec.storage_size,
                "storage_class": spec.storage_class,
                "databases": [{"database": "keycloak", "owner": "keycloak"}],
                "protect_data": cfg.protect_data,
            },
            in_namespace,
        )
        tracking_uri = mlflow_db.uri("mlflow", "mlflow")
        users_uri = mlflow_db.uri("mlflow_auth", "mlflow_auth")
        keycloak_store = KeycloakDatabase(
            host=keycloak_db.host,
            port=POSTGRES_PORT,
            database="keycloak",
            credentials_secret=keycloak_db.credentials["keycloak"].metadata["name"],
        )
    else:
        tracking_uri = pulumi.Output.secret(external.tracking)
        users_uri = pulumi.Output.secret(external.permissions)
        address = external.identities_address
        credentials = basic_auth_secret(
            "keycloak-db-credentials",
            ns,
            address.username,
            pulumi.Output.secret(address.password),
            namespace,
        )
        keycloak_store = KeycloakDatabase(
            host=address.host,
            port=address.port,
            database=address.database,
            credentials_secret=credentials.metadata["name"],
        )

    keycloak_kind = KeycloakCluster if spec.keycloak_workload == "operator" else KeycloakStatefulSet
    keycloak_cluster = keycloak_kind(
        "keycloak",
        {
            "namespace": ns,
            "resource_name": KEYCLOAK_NAME,
            "instances": spec.keycloak_instances,
            "image": spec.keycloak_image or pin("KEYCLOAK_IMAGE"),
            "public_url": cfg.urls.keycloak,
            "database": keycloak_store,
            "admin_username": cfg.keycloak_admin_username,
            "allow_concurrent_logins": cfg.brute_force_allow_concurrent_logins,
            "trusted_proxies": spec.trusted_proxies,
            "admin_url": spec.realm_admin_url,
        },
        in_namespace,
    )
    client_secret = mlflow_client_secret()
    mlflow = MlflowDeployment(
        "mlflow",
        {
            "namespace": ns,
            "app_name": MLFLOW_APP,
            "image": cfg.mlflow_image,
            "replicas": cfg.replicas,
            "settings": cfg,
            "public": {
                "public_url": cfg.urls.mlflow,
                "trusted_proxies": spec.trusted_proxies,
                "service_host": MLFLOW_APP,
            },
            "backend_store_uri": tracking_uri,
            "users_db_uri": users_uri,
            "oidc": mlflow_oidc(cfg, keycloak_cluster.discovery_url(cfg.realm), client_secret),
            "artifacts": spec.artifacts,
            "redis_url": spec.redis_url,
        },
        in_namespace,
    )
    ingress = PublicIngress(
        "ingress",
        {
            "namespace": ns,
            "name": "mlflow-keycloak",
            "ingress_class": spec.ingress_class,
            "mlflow": {
                "host": cfg.mlflow_hostname,
                "service": MLFLOW_APP,
                "port": MLFLOW_HTTP_PORT,
            },
            "keycloak": {
                "host": cfg.keycloak_hostname,
                "service": keycloak_cluster.service_name,
                "port": KEYCLOAK_HTTP_PORT,
            },
            "realm": cfg.realm,
            "ingress_certificate": spec.ingress_certificate,
            "cert_manager_issuer": spec.cert_manager_issuer,
        },
        in_namespace,
    )

    pulumi.export(Output.KUBERNETES_NAMESPACE, spec.namespace)
    if spec.render_dir:
        pulumi.export(Output.RENDERED_MANIFESTS, spec.render_dir)
    if keycloak_cluster.access:
        identity = declare_identity(cfg, keycloak_cluster.access, client_secret)
        declare_mlflow_access(cfg, identity, [mlflow, ingress])
        export_identity(cfg, identity, keycloak_cluster.access)
    else:
        export_services(
            cfg, client_secret, cfg.keycloak_admin_username, keycloak_cluster.admin_password
        )

"""Keycloak on Kubernetes as the Keycloak Operator's `Keycloak` resource: several pods that
cluster over their database (jdbc-ping), plain HTTP behind the Ingress, which terminates TLS."""

from __future__ import annotations

from typing import Any, TypedDict

import pulumi
import pulumi_kubernetes as k8s

from components.generated import generated_secret
from components.keycloak_app import (
    HTTP_PORT,
    MANAGEMENT_PORT,
    KeycloakAccess,
    admin_access,
    server_options,
)
from components.kubernetes.postgres_cluster import basic_auth_secret
from components.stack_component import Options, StackComponent

KEYCLOAK_API = "k8s.keycloak.org/v2alpha1"
# The operator names the Service after the resource.
SERVICE_SUFFIX = "-service"


class KeycloakDatabase(TypedDict):
    host: str
    port: int
    database: str
    # A basic-auth Secret of the namespace with the login role's username and password.
    credentials_secret: pulumi.Input[str]


class KeycloakClusterArgs(TypedDict):
    namespace: pulumi.Input[str]
    resource_name: str
    instances: int
    image: str
    public_url: str
    database: KeycloakDatabase
    admin_username: str
    allow_concurrent_logins: bool
    trusted_proxies: str
    """Address range of the ingress controller's pods: the only senders whose X-Forwarded-*
    headers Keycloak believes (proxy-trusted-addresses)."""
    admin_url: str | None
    """Where this host reaches Keycloak's admin API to configure the realm; None: the realm is
    not configured (no provider, and `up` does not wait for Keycloak)."""


def _secret_key(secret: pulumi.Input[str], key: str) -> dict[str, Any]:
    return {"name": secret, "key": key}


class KeycloakServer(StackComponent):
    """Keycloak on the cluster as the rest of the stack sees it, whoever runs it (the operator
    here, the stack's own StatefulSet in keycloak_statefulset.py)."""

    admin_password: pulumi.Output[str]
    access: KeycloakAccess | None
    service_name: str
    service_url: str

    def discovery_url(self, realm: str) -> str:
        """Where MLflow's pods read the realm's OIDC metadata (inside the cluster)."""
        return f"{self.service_url}/realms/{realm}/.well-known/openid-configuration"


class KeycloakCluster(KeycloakServer):
    """The `Keycloak` resource and its bootstrap admin's Secret (password generated)."""

    keycloak: k8s.apiextensions.CustomResource

    def __init__(self, name: str, args: KeycloakClusterArgs, opts: Options = None) -> None:
        super().__init__(name, opts)
        resource_name = args["resource_name"]
        namespace = args["namespace"]
        self.admin_password = generated_secret(f"{name}-admin-password", self)
        admin = basic_auth_secret(
            f"{resource_name}-bootstrap-admin",
            namespace,
            args["admin_username"],
            self.admin_password,
            self,
        )
        db = args["database"]
        options = [
            # Keycloak 26 pods find each other through a table of their database.
            {"name": "cache-stack", "value": "jdbc-ping"},
            {"name": "proxy-trusted-addresses", "value": args["trusted_proxies"]},
        ]
        options += [
            {"name": option, "value": value}
            for option, value in server_options(args["allow_concurrent_logins"]).items()
        ]
        metadata: dict[str, Any] = {"name": resource_name, "namespace": namespace}
        if args["admin_url"]:
            # The realm is declared through this Keycloak: pulumi up waits until the operator
            # reports it ready. Without the realm nothing waits on it.
            metadata["annotations"] = {"pulumi.com/waitFor": "condition=Ready"}
        self.keycloak = k8s.apiextensions.CustomResource(
            f"{name}-keycloak",
            api_version=KEYCLOAK_API,
            kind="Keycloak",
            metadata=metadata,
            spec={
                "instances": args["instances"],
                "image": args["image"],
                "startOptimized": False,
                "bootstrapAdmin": {"user": {"secret": admin.metadata["name"]}},
                "db": {
                    "vendor": "postgres",
                    "host": db["host"],
                    "port": db["port"],
                    "database": db["database"],
                    "usernameSecret": _secret_key(db["credentials_secret"], "username"),
                    "passwordSecret": _secret_key(db["credentials_secret"], "password"),
                },
                "http": {"httpEnabled": True, "httpPort": HTTP_PORT},
                "httpManagement": {"port": MANAGEMENT_PORT},
                "hostname": {
                    "hostname": args["public_url"],
                    # MLflow's pods reach the same Keycloak by its Service name.
                    "backchannelDynamic": True,
                },
                "proxy": {"headers": "xforwarded"},
                # The stack's own Ingress routes the public paths only (never /admin/).
                "ingress": {"enabled": False},
                "additionalOptions": options,
                "resources": {
                    "requests": {"cpu": "500m", "memory": "1Gi"},
                    "limits": {"memory": "2Gi"},
                },
                # The restricted Pod Security Standard of the namespace: the operator's pod gets
                # the same fields as the stack's own StatefulSet.
                "unsupported": {
                    "podTemplate": {
                        "spec": {
                            "securityContext": {
                                "runAsNonRoot": True,
                                "seccompProfile": {"type": "RuntimeDefault"},
                            },
                            "containers": [
                                {
                                    "name": "keycloak",
                                    "securityContext": {
                                        "allowPrivilegeEscalation": False,
                                        "capabilities": {"drop": ["ALL"]},
                                    },
                                }
                            ],
                        }
                    }
                },
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[admin]),
        )
        self.access = (
            admin_access(
                f"{name}-provider",
                args["admin_url"],
                args["admin_username"],
                self.admin_password,
                self,
                # Released at the stack's root, hence the alias.
                pulumi.ResourceOptions(
                    parent=self,
                    depends_on=[self.keycloak],
                    aliases=[pulumi.Alias(parent=pulumi.ROOT_STACK_RESOURCE)],
                ),
            )
            if args["admin_url"]
            else None
        )
        self.service_name = f"{resource_name}{SERVICE_SUFFIX}"
        self.service_url = f"http://{self.service_name}:{HTTP_PORT}"
        self.register_outputs({"service_url": self.service_url})

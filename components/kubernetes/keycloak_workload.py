"""Keycloak on Kubernetes as the rest of the stack sees it, whoever runs it: the Keycloak
Operator's `Keycloak` (keycloak_cluster.py) or the stack's own StatefulSet
(keycloak_statefulset.py). What both take, and what both make the same way: the bootstrap
admin's Secret with its generated password, the Service name MLflow and the Ingress use, and the
keycloak provider that declares the realm once the server answers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypedDict

import pulumi
import pulumi_kubernetes as k8s

from components.generated import generated_secret
from components.keycloak_app import HTTP_PORT, KeycloakAccess, admin_access
from components.kubernetes.postgres_cluster import basic_auth_secret
from components.stack_component import StackComponent

# The operator names the Service after the resource; the StatefulSet's Service is named alike.
SERVICE_SUFFIX = "-service"


class KeycloakDatabase(TypedDict):
    host: str
    port: int
    database: str
    # A basic-auth Secret of the namespace with the login role's username and password.
    credentials_secret: pulumi.Input[str]


class KeycloakWorkloadArgs(TypedDict):
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


class KeycloakWorkload(StackComponent):
    """The base of both workloads: a subclass calls bootstrap_admin first, then makes its
    server, then calls declare_access with what must exist before the admin API answers."""

    admin_password: pulumi.Output[str]
    access: KeycloakAccess | None
    service_name: str
    service_url: str

    def bootstrap_admin(self, name: str, args: KeycloakWorkloadArgs) -> k8s.core.v1.Secret:
        """The master realm's first admin: a basic-auth Secret, its password generated."""
        self.service_name = f"{args['resource_name']}{SERVICE_SUFFIX}"
        self.service_url = f"http://{self.service_name}:{HTTP_PORT}"
        self.admin_password = generated_secret(f"{name}-admin-password", self)
        return basic_auth_secret(
            f"{args['resource_name']}-bootstrap-admin",
            args["namespace"],
            args["admin_username"],
            self.admin_password,
            self,
        )

    def declare_access(
        self, name: str, args: KeycloakWorkloadArgs, server: Sequence[pulumi.Resource]
    ) -> None:
        """The keycloak provider, when the realm is declared (admin_url), used once `server`
        exists; then the component's outputs."""
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
                    depends_on=list(server),
                    aliases=[pulumi.Alias(parent=pulumi.ROOT_STACK_RESOURCE)],
                ),
            )
            if args["admin_url"]
            else None
        )
        self.register_outputs({"service_url": self.service_url})

    def discovery_url(self, realm: str) -> str:
        """Where MLflow's pods read the realm's OIDC metadata (inside the cluster)."""
        return f"{self.service_url}/realms/{realm}/.well-known/openid-configuration"

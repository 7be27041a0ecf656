"""Keycloak on Kubernetes as the Keycloak Operator's `Keycloak` resource: several pods that
cluster over their database (jdbc-ping), plain HTTP behind the Ingress, which terminates TLS."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.keycloak_app import HTTP_PORT, MANAGEMENT_PORT, server_options
from components.kubernetes.keycloak_workload import KeycloakWorkload, KeycloakWorkloadArgs
from components.kubernetes.restricted import RESTRICTED_CONTAINER, RESTRICTED_POD
from components.stack_component import Options

KEYCLOAK_API = "k8s.keycloak.org/v2alpha1"


def _secret_key(secret: pulumi.Input[str], key: str) -> dict[str, Any]:
    return {"name": secret, "key": key}


class KeycloakCluster(KeycloakWorkload):
    """The `Keycloak` resource and its bootstrap admin's Secret (password generated)."""

    keycloak: k8s.apiextensions.CustomResource

    def __init__(self, name: str, args: KeycloakWorkloadArgs, opts: Options = None) -> None:
        super().__init__(name, opts)
        resource_name = args["resource_name"]
        namespace = args["namespace"]
        admin = self.bootstrap_admin(name, args)
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
                            "securityContext": RESTRICTED_POD,
                            "containers": [
                                {"name": "keycloak", "securityContext": RESTRICTED_CONTAINER}
                            ],
                        }
                    }
                },
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[admin]),
        )
        self.declare_access(name, args, [self.keycloak])

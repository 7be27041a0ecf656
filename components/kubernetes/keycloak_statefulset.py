"""Keycloak on Kubernetes declared by the stack itself, without the Keycloak Operator: what the
operator would make of the stack's `Keycloak` resource (kubernetes/keycloak_cluster.py). A
StatefulSet whose pods cluster over their database (jdbc-ping), a headless Service that names
them for it, and the Service `keycloak-service` the Ingress and MLflow use; probes on the
management port, the same proxy headers and host names, the restricted pod security fields. A
team without the operator, or without cluster-admin to install its CRDs, runs the stack so."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.keycloak_app import HTTP_PORT, MANAGEMENT_PORT, env_name, server_options
from components.kubernetes.keycloak_workload import KeycloakWorkload, KeycloakWorkloadArgs
from components.kubernetes.restricted import RESTRICTED_CONTAINER, RESTRICTED_POD
from components.stack_component import Options

# The image's user (the official image's layout: uid 1000 in group root).
IMAGE_UID = 1000
# jgroups' port: the pods of one cluster talk to each other on it (jdbc-ping finds them).
JGROUPS_PORT = 7800


def _from_secret(name: str, secret: pulumi.Input[str], key: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}


def _probe(path: str, period: int, failures: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": MANAGEMENT_PORT},
        "periodSeconds": period,
        "timeoutSeconds": 5,
        "failureThreshold": failures,
    }


class KeycloakStatefulSet(KeycloakWorkload):
    """The bootstrap admin's Secret (password generated), the StatefulSet and its two Services."""

    statefulset: k8s.apps.v1.StatefulSet

    def __init__(self, name: str, args: KeycloakWorkloadArgs, opts: Options = None) -> None:
        super().__init__(name, opts)
        resource_name = args["resource_name"]
        namespace = args["namespace"]
        admin = self.bootstrap_admin(name, args)
        db = args["database"]
        labels = {"app.kubernetes.io/name": "keycloak", "app.kubernetes.io/instance": resource_name}
        discovery = f"{resource_name}-discovery"
        options = {
            "db": "postgres",
            "db-url-host": db["host"],
            "db-url-port": str(db["port"]),
            "db-url-database": db["database"],
            "health-enabled": "true",
            "http-enabled": "true",
            "http-port": str(HTTP_PORT),
            "http-management-port": str(MANAGEMENT_PORT),
            "hostname": args["public_url"],
            # MLflow's pods reach the same Keycloak by its Service name.
            "hostname-backchannel-dynamic": "true",
            "proxy-headers": "xforwarded",
            # ...believed from the ingress controller's pods only.
            "proxy-trusted-addresses": args["trusted_proxies"],
            # Keycloak 26 pods find each other through a table of their database.
            "cache-stack": "jdbc-ping",
            **server_options(args["allow_concurrent_logins"]),
        }
        env: list[dict[str, Any]] = [
            {"name": env_name(option), "value": value} for option, value in options.items()
        ]
        env += [
            _from_secret("KC_DB_USERNAME", db["credentials_secret"], "username"),
            _from_secret("KC_DB_PASSWORD", db["credentials_secret"], "password"),
            _from_secret("KC_BOOTSTRAP_ADMIN_USERNAME", admin.metadata["name"], "username"),
            _from_secret("KC_BOOTSTRAP_ADMIN_PASSWORD", admin.metadata["name"], "password"),
            # jgroups binds to the pod's own address (the operator does the same).
            {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {"name": "JAVA_OPTS_APPEND", "value": "-Djgroups.bind.address=$(POD_IP)"},
        ]
        self.headless = k8s.core.v1.Service(
            f"{name}-discovery",
            metadata={"name": discovery, "namespace": namespace, "labels": labels},
            spec={
                "clusterIP": "None",
                # Starting pods must see each other before they are ready.
                "publishNotReadyAddresses": True,
                "selector": labels,
                "ports": [{"name": "jgroups", "port": JGROUPS_PORT}],
            },
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.service = k8s.core.v1.Service(
            f"{name}-service",
            metadata={"name": self.service_name, "namespace": namespace, "labels": labels},
            spec={
                "selector": labels,
                "ports": [
                    {"name": "http", "port": HTTP_PORT, "targetPort": HTTP_PORT},
                    {"name": "management", "port": MANAGEMENT_PORT, "targetPort": MANAGEMENT_PORT},
                ],
            },
            opts=pulumi.ResourceOptions(parent=self),
        )
        container = {
            "name": "keycloak",
            "image": args["image"],
            # Not optimized: the stock image builds its options at first start (as the
            # operator's startOptimized: false); a derived optimized image may be given instead.
            "args": ["start"],
            "env": env,
            "ports": [
                {"name": "http", "containerPort": HTTP_PORT},
                {"name": "management", "containerPort": MANAGEMENT_PORT},
                {"name": "jgroups", "containerPort": JGROUPS_PORT},
            ],
            # A first start builds and creates the schema: up to 5 minutes on 2 cores.
            "startupProbe": _probe("/health/started", 2, 150),
            "readinessProbe": _probe("/health/ready", 5, 3),
            "livenessProbe": _probe("/health/live", 10, 6),
            "resources": {
                "requests": {"cpu": "500m", "memory": "1Gi"},
                "limits": {"memory": "2Gi"},
            },
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": IMAGE_UID,
                **RESTRICTED_CONTAINER,
            },
        }
        wait = {"pulumi.com/skipAwait": "true"} if not args["admin_url"] else {}
        self.statefulset = k8s.apps.v1.StatefulSet(
            f"{name}-statefulset",
            metadata={
                "name": resource_name,
                "namespace": namespace,
                "labels": labels,
                "annotations": wait,
            },
            spec={
                "serviceName": discovery,
                "replicas": args["instances"],
                # The pods cluster over the database, not over an order: start them together.
                "podManagementPolicy": "Parallel",
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "automountServiceAccountToken": False,
                        "securityContext": RESTRICTED_POD,
                        "containers": [container],
                    },
                },
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[admin]),
        )
        self.declare_access(name, args, [self.statefulset, self.service])

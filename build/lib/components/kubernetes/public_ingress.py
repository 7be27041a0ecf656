"""The cluster's front door: one Ingress, HTTPS only, MLflow and Keycloak on host names of their
own; of Keycloak only the paths browsers and OIDC clients need, never `/admin/`."""

from __future__ import annotations

from typing import Any, TypedDict

import pulumi
import pulumi_kubernetes as k8s

from components.keycloak_app import public_paths
from components.stack_component import Options, StackComponent


class Backend(TypedDict):
    host: str
    service: str
    port: int


class PublicIngressArgs(TypedDict):
    namespace: pulumi.Input[str]
    name: str
    ingress_class: str
    mlflow: Backend
    keycloak: Backend
    realm: str
    # One of the two: an existing kubernetes.io/tls Secret, or a cert-manager ClusterIssuer.
    ingress_certificate: str | None
    cert_manager_issuer: str | None


def _path(path: str, backend: Backend) -> dict[str, Any]:
    return {
        "path": path,
        "pathType": "Prefix",
        "backend": {"service": {"name": backend["service"], "port": {"number": backend["port"]}}},
    }


class PublicIngress(StackComponent):
    ingress: k8s.networking.v1.Ingress

    def __init__(self, name: str, args: PublicIngressArgs, opts: Options = None) -> None:
        super().__init__(name, opts)
        mlflow, keycloak = args["mlflow"], args["keycloak"]
        annotations = {
            # Many controllers never publish a load-balancer address in the Ingress's status
            # (host-network nginx, kind, bare metal): waiting for one would hang `pulumi up`.
            "pulumi.com/skipAwait": "true",
            # Plain HTTP is redirected to HTTPS.
            "nginx.ingress.kubernetes.io/ssl-redirect": "true",
            "nginx.ingress.kubernetes.io/force-ssl-redirect": "true",
        }
        secret_name = args["ingress_certificate"]
        if args["cert_manager_issuer"]:
            annotations["cert-manager.io/cluster-issuer"] = args["cert_manager_issuer"]
            secret_name = f"{args['name']}-tls"
        self.ingress = k8s.networking.v1.Ingress(
            f"{name}-ingress",
            metadata={
                "name": args["name"],
                "namespace": args["namespace"],
                "annotations": annotations,
            },
            spec={
                "ingressClassName": args["ingress_class"],
                "tls": [{"hosts": [mlflow["host"], keycloak["host"]], "secretName": secret_name}],
                "rules": [
                    {"host": mlflow["host"], "http": {"paths": [_path("/", mlflow)]}},
                    {
                        "host": keycloak["host"],
                        "http": {
                            "paths": [_path(path, keycloak) for path in public_paths(args["realm"])]
                        },
                    },
                ],
            },
            opts=self.child,
        )
        self.register_outputs({"name": self.ingress.metadata["name"]})

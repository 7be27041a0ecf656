"""MLflow with mlflow-oidc-auth on Kubernetes: replicas behind one Service, sharing one
SECRET_KEY, their sessions and permissions in the database, artifacts in S3-compatible storage,
a PodDisruptionBudget so a node drain never takes them all."""

from __future__ import annotations

from typing import Any, TypedDict

import pulumi
import pulumi_kubernetes as k8s

from components.generated import generated_secret
from components.mlflow_server import HTTP_PORT, OidcSettings, plugin_env, server_command
from components.stack_component import Options, StackComponent
from stackconfig import S3Artifacts

# The image's user (images/mlflow/Dockerfile: uid and gid 1000, home /var/lib/mlflow).
IMAGE_UID = 1000
HOME_DIR = "/var/lib/mlflow"
# Probes send this Host: MLflow's host check allows it besides the public name.
PROBE_HOST = "localhost"


class MlflowDeploymentArgs(TypedDict):
    namespace: pulumi.Input[str]
    app_name: str
    image: str
    replicas: int
    workers: int
    public_url: str
    trusted_proxies: str
    backend_store_uri: pulumi.Input[str]
    users_db_uri: pulumi.Input[str]
    oidc: OidcSettings
    artifacts: S3Artifacts
    redis_url: str | None


def _env(values: dict[str, pulumi.Input[str]]) -> list[dict[str, Any]]:
    return [{"name": key, "value": value} for key, value in values.items()]


def _probe(path: str, period: int, failures: int) -> dict[str, Any]:
    return {
        "httpGet": {
            "path": path,
            "port": HTTP_PORT,
            "httpHeaders": [{"name": "Host", "value": PROBE_HOST}],
        },
        "periodSeconds": period,
        "timeoutSeconds": 5,
        "failureThreshold": failures,
    }


class MlflowDeployment(StackComponent):
    """Secret (every secret setting), Deployment, Service and PodDisruptionBudget."""

    secret: k8s.core.v1.Secret
    deployment: k8s.apps.v1.Deployment
    service: k8s.core.v1.Service
    disruption_budget: k8s.policy.v1.PodDisruptionBudget

    def __init__(self, name: str, args: MlflowDeploymentArgs, opts: Options = None) -> None:
        super().__init__(name, opts)
        app = args["app_name"]
        namespace = args["namespace"]
        labels = {"app.kubernetes.io/name": app, "app.kubernetes.io/component": "tracking"}
        artifacts = args["artifacts"]
        # One key for every replica: a session signed by one is valid on the others.
        secret_key = generated_secret(f"{name}-secret-key", self, length=48)
        secret_values: dict[str, pulumi.Input[str]] = {
            "MLFLOW_BACKEND_STORE_URI": args["backend_store_uri"],
            "OIDC_USERS_DB_URI": args["users_db_uri"],
            "SECRET_KEY": secret_key,
            "OIDC_CLIENT_SECRET": args["oidc"]["client_secret"],
            "AWS_ACCESS_KEY_ID": pulumi.Output.secret(artifacts.access_key_id),
            "AWS_SECRET_ACCESS_KEY": pulumi.Output.secret(artifacts.secret_access_key),
        }
        if args["redis_url"]:
            secret_values["CACHE_REDIS_URL"] = pulumi.Output.secret(args["redis_url"])
        self.secret = k8s.core.v1.Secret(
            f"{name}-settings",
            metadata={"name": f"{app}-settings", "namespace": namespace, "labels": labels},
            type="Opaque",
            string_data=secret_values,
            opts=self.child,
        )
        public_host = args["public_url"].removeprefix("https://")
        settings: dict[str, pulumi.Input[str]] = {
            **plugin_env(args["oidc"]),
            "MLFLOW_DISABLE_TELEMETRY": "true",
            "DO_NOT_TRACK": "true",
            "SESSION_COOKIE_SECURE": "true",
            "TRUSTED_PROXIES": args["trusted_proxies"],
            "MLFLOW_SERVER_ALLOWED_HOSTS": ",".join(
                [public_host, f"{app}:{HTTP_PORT}", f"{PROBE_HOST}:*", PROBE_HOST]
            ),
            "MLFLOW_SERVER_CORS_ALLOWED_ORIGINS": args["public_url"],
        }
        if artifacts.endpoint_url:
            settings["MLFLOW_S3_ENDPOINT_URL"] = artifacts.endpoint_url
        if artifacts.region:
            settings["AWS_DEFAULT_REGION"] = artifacts.region
        if args["redis_url"]:
            # Permission changes reach every replica's cache at once.
            settings["CACHE_BACKEND"] = "redis"
        container = {
            "name": "mlflow",
            "image": args["image"],
            "args": server_command(args["workers"], artifacts.destination),
            "ports": [{"name": "http", "containerPort": HTTP_PORT}],
            "env": _env(settings),
            "envFrom": [{"secretRef": {"name": self.secret.metadata["name"]}}],
            "readinessProbe": _probe("/health/ready", period=10, failures=3),
            "livenessProbe": _probe("/health", period=20, failures=6),
            "startupProbe": _probe("/health", period=5, failures=60),
            "resources": {
                "requests": {"cpu": "250m", "memory": "512Mi"},
                "limits": {"memory": "2Gi"},
            },
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": IMAGE_UID,
                "runAsGroup": IMAGE_UID,
                "readOnlyRootFilesystem": True,
                "allowPrivilegeEscalation": False,
                "capabilities": {"drop": ["ALL"]},
            },
            # The root file system is read-only: scratch space for MLflow and Python only.
            "volumeMounts": [
                {"name": "tmp", "mountPath": "/tmp"},
                {"name": "home", "mountPath": HOME_DIR},
            ],
        }
        self.deployment = k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata={"name": app, "namespace": namespace, "labels": labels},
            spec={
                "replicas": args["replicas"],
                "selector": {"matchLabels": labels},
                "strategy": {
                    "type": "RollingUpdate",
                    "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
                },
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "automountServiceAccountToken": False,
                        "securityContext": {
                            "runAsNonRoot": True,
                            "fsGroup": IMAGE_UID,
                            "seccompProfile": {"type": "RuntimeDefault"},
                        },
                        "containers": [container],
                        "volumes": [
                            {"name": "tmp", "emptyDir": {}},
                            {"name": "home", "emptyDir": {}},
                        ],
                        "topologySpreadConstraints": [
                            {
                                "maxSkew": 1,
                                "topologyKey": "kubernetes.io/hostname",
                                "whenUnsatisfiable": "ScheduleAnyway",
                                "labelSelector": {"matchLabels": labels},
                            }
                        ],
                    },
                },
            },
            opts=self.child,
        )
        self.service = k8s.core.v1.Service(
            f"{name}-service",
            metadata={"name": app, "namespace": namespace, "labels": labels},
            spec={
                "selector": labels,
                "ports": [{"name": "http", "port": HTTP_PORT, "targetPort": "http"}],
            },
            opts=self.child,
        )
        self.disruption_budget = k8s.policy.v1.PodDisruptionBudget(
            f"{name}-disruption-budget",
            metadata={"name": app, "namespace": namespace, "labels": labels},
            spec={
                "selector": {"matchLabels": labels},
                "maxUnavailable": 1,
            },
            opts=self.child,
        )
        self.register_outputs({"service": self.service.metadata["name"]})

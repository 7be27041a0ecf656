"""MLflow with mlflow-oidc-auth on Kubernetes: replicas behind one Service, sharing one
SECRET_KEY, their sessions and permissions in the database, artifacts in S3-compatible storage,
a PodDisruptionBudget so a node drain never takes them all."""

from __future__ import annotations

from typing import Any, TypedDict

import pulumi
import pulumi_kubernetes as k8s

from components import mlflow_app
from components.generated import generated_secret
from components.kubernetes.restricted import RESTRICTED_CONTAINER, RESTRICTED_POD
from components.mlflow_app import OidcSettings, PublicEndpoint, Stores
from components.stack_component import Options, StackComponent
from stackconfig import MlflowConfig, S3Artifacts


class MlflowDeploymentArgs(TypedDict):
    namespace: pulumi.Input[str]
    app_name: str
    image: str
    replicas: int
    settings: MlflowConfig
    public: PublicEndpoint
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
            "port": mlflow_app.HTTP_PORT,
            "httpHeaders": [{"name": "Host", "value": mlflow_app.PROBE_HOST}],
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
        stores: Stores = {
            "backend_store_uri": args["backend_store_uri"],
            "users_db_uri": args["users_db_uri"],
            "secret_key": secret_key,
        }
        secret_values = {
            **mlflow_app.secret_env(stores, args["oidc"]),
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
        settings = mlflow_app.settings_env(args["settings"], args["oidc"], args["public"])
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
            "args": mlflow_app.server_command(args["settings"], artifacts.destination),
            "ports": [{"name": "http", "containerPort": mlflow_app.HTTP_PORT}],
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
                "runAsUser": mlflow_app.IMAGE_UID,
                "runAsGroup": mlflow_app.IMAGE_UID,
                "readOnlyRootFilesystem": True,
                **RESTRICTED_CONTAINER,
            },
            # The root file system is read-only: scratch space for MLflow and Python only.
            "volumeMounts": [
                {"name": "tmp", "mountPath": "/tmp"},
                {"name": "home", "mountPath": mlflow_app.HOME_DIR},
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
                        "securityContext": {**RESTRICTED_POD, "fsGroup": mlflow_app.IMAGE_UID},
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
                "ports": [{"name": "http", "port": mlflow_app.HTTP_PORT, "targetPort": "http"}],
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

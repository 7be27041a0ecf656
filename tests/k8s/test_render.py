"""Tier 1 of the kubernetes target: a real `pulumi up` renders every manifest (no cluster), and
the manifests say what a cluster operator relies on."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.k8s.rendered import (
    ACCESS_KEY_ID,
    EXTERNAL_PASSWORDS,
    REDIS_PASSWORD,
    SECRET_ACCESS_KEY,
    Rendered,
)


def env_of(container: dict[str, Any]) -> dict[str, str]:
    return {item["name"]: item.get("value", "") for item in container.get("env", [])}


def secret_data(secret: dict[str, Any]) -> dict[str, str]:
    data = {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}
    return {**data, **(secret.get("stringData") or {})}


def test_every_object_is_rendered_into_the_stack_namespace(production: Rendered) -> None:
    kinds = sorted(m["kind"] for m in production.manifests)
    print("rendered:", kinds)
    for kind in ("Namespace", "Cluster", "Database", "Keycloak", "Deployment", "Service"):
        assert kind in kinds, kind
    assert {"PodDisruptionBudget", "Ingress", "Secret"} <= set(kinds)
    for manifest in production.manifests:
        if manifest["kind"] != "Namespace":
            assert manifest["metadata"]["namespace"] == "mlflow-prod", manifest["metadata"]


def test_mlflow_runs_replicas_sharing_one_secret_key(production: Rendered) -> None:
    deployment = production.one("Deployment", "mlflow")
    assert deployment["spec"]["replicas"] == 2
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert "SECRET_KEY" not in env_of(container)
    (source,) = container["envFrom"]
    settings = secret_data(production.one("Secret", source["secretRef"]["name"]))
    assert len(settings["SECRET_KEY"]) == 48
    assert settings["OIDC_CLIENT_SECRET"] == production.outputs["clientSecret"]
    assert settings["MLFLOW_BACKEND_STORE_URI"].startswith("postgresql://mlflow:")
    assert settings["MLFLOW_BACKEND_STORE_URI"].endswith("@mlflow-db-rw:5432/mlflow")
    assert settings["OIDC_USERS_DB_URI"].endswith("@mlflow-db-rw:5432/mlflow_auth")
    assert container["args"][container["args"].index("--artifacts-destination") + 1] == (
        "s3://ml-artifacts/mlflow"
    )


def test_mlflow_trusts_the_ingress_and_shares_its_permission_cache(production: Rendered) -> None:
    (container,) = production.one("Deployment", "mlflow")["spec"]["template"]["spec"]["containers"]
    env = env_of(container)
    assert env["TRUSTED_PROXIES"] == "10.0.0.0/8"
    assert env["SESSION_COOKIE_SECURE"] == "true"
    assert env["CACHE_BACKEND"] == "redis"
    assert env["OIDC_ISSUER"] == "https://auth.example.com/realms/mlflow"
    assert env["OIDC_REDIRECT_URI"] == "https://mlflow.example.com/callback"
    assert env["OIDC_DISCOVERY_URL"] == (
        "http://keycloak-service:8080/realms/mlflow/.well-known/openid-configuration"
    )
    assert env["MLFLOW_S3_ENDPOINT_URL"] == "https://s3.example.com"
    assert "mlflow.example.com" in env["MLFLOW_SERVER_ALLOWED_HOSTS"].split(",")


def test_mlflow_pods_are_probed_on_the_plugins_health_routes(production: Rendered) -> None:
    (container,) = production.one("Deployment", "mlflow")["spec"]["template"]["spec"]["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"


def test_a_disruption_budget_keeps_mlflow_serving_through_a_drain(production: Rendered) -> None:
    budget = production.one("PodDisruptionBudget", "mlflow")["spec"]
    deployment = production.one("Deployment", "mlflow")["spec"]
    assert budget["selector"] == deployment["selector"]
    assert budget["maxUnavailable"] == 1 < deployment["replicas"]


def test_keycloak_is_clustered_behind_the_ingress_on_its_database(production: Rendered) -> None:
    keycloak = production.one("Keycloak", "keycloak")["spec"]
    assert keycloak["instances"] == 2
    assert keycloak["hostname"]["hostname"] == "https://auth.example.com"
    assert keycloak["proxy"]["headers"] == "xforwarded"
    assert keycloak["http"]["httpEnabled"] is True
    assert keycloak["ingress"]["enabled"] is False
    assert {"name": "cache-stack", "value": "jdbc-ping"} in keycloak["additionalOptions"]
    assert keycloak["db"]["host"] == "keycloak-db-rw"
    credentials = production.one("Secret", keycloak["db"]["usernameSecret"]["name"])
    assert credentials["type"] == "kubernetes.io/basic-auth"
    admin = production.one("Secret", keycloak["bootstrapAdmin"]["user"]["secret"])
    assert secret_data(admin)["password"] == production.outputs["keycloakAdminPassword"]


def test_postgres_runs_three_instances_per_database_in_production(production: Rendered) -> None:
    clusters = {c["metadata"]["name"]: c["spec"] for c in production.of_kind("Cluster")}
    assert set(clusters) == {"mlflow-db", "keycloak-db"}
    for spec in clusters.values():
        assert spec["instances"] == 3
        assert spec["storage"]["size"] == "10Gi"
        assert spec["enableSuperuserAccess"] is False
    assert clusters["mlflow-db"]["bootstrap"]["initdb"]["database"] == "mlflow"
    (role,) = clusters["mlflow-db"]["managed"]["roles"]
    database = production.one("Database")["spec"]
    assert (database["name"], database["owner"], role["name"]) == ("mlflow_auth",) * 2 + (
        "mlflow_auth",
    )


def test_the_ingress_serves_https_and_never_routes_keycloaks_admin(production: Rendered) -> None:
    spec = production.one("Ingress")["spec"]
    assert spec["ingressClassName"] == "nginx"
    (tls,) = spec["tls"]
    assert set(tls["hosts"]) == {"mlflow.example.com", "auth.example.com"}
    assert tls["secretName"] == "mlflow-tls"
    paths = {rule["host"]: [p["path"] for p in rule["http"]["paths"]] for rule in spec["rules"]}
    assert paths == {
        "mlflow.example.com": ["/"],
        "auth.example.com": ["/realms/mlflow/", "/resources/"],
    }
    assert not any(p.startswith("/admin") for host in paths.values() for p in host)


def test_every_workload_runs_non_root_with_requests_and_limits(production: Rendered) -> None:
    pod = production.one("Deployment", "mlflow")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    for container in pod["containers"]:
        security = container["securityContext"]
        assert security["readOnlyRootFilesystem"] is True
        assert security["allowPrivilegeEscalation"] is False
        assert security["capabilities"]["drop"] == ["ALL"]
        assert {"requests", "limits"} <= set(container["resources"])
    keycloak = production.one("Keycloak")["spec"]
    assert keycloak["unsupported"]["podTemplate"]["spec"]["securityContext"]["runAsNonRoot"]
    assert {"requests", "limits"} <= set(keycloak["resources"])
    for cluster in production.of_kind("Cluster"):
        assert {"requests", "limits"} <= set(cluster["spec"]["resources"])


def generated_secrets(rendered: Rendered) -> dict[str, str]:
    return {key: rendered.outputs[key] for key in ("clientSecret", "keycloakAdminPassword")}


@pytest.mark.parametrize("case", ["production", "managed"])
def test_no_secret_in_plain_text_outside_secret_objects(
    request: pytest.FixtureRequest, case: str
) -> None:
    rendered: Rendered = request.getfixturevalue(case)
    secrets = {
        **generated_secrets(rendered),
        "accessKeyId": ACCESS_KEY_ID,
        "secretAccessKey": SECRET_ACCESS_KEY,
        **({"redis": REDIS_PASSWORD} if case == "production" else EXTERNAL_PASSWORDS),
    }
    in_secrets: set[str] = set()
    for path, text in rendered.files.items():
        kinds = {m.get("kind") for m in yaml.safe_load_all(text) if m}
        for name, value in secrets.items():
            encoded = base64.b64encode(value.encode()).decode()
            if kinds == {"Secret"}:
                decoded = [
                    item
                    for secret in yaml.safe_load_all(text)
                    if secret
                    for item in secret_data(secret).values()
                ]
                if any(value in item for item in decoded):
                    in_secrets.add(name)
                continue
            assert value not in text, f"{name} in plain text in {Path(path).name}"
            assert encoded not in text, f"{name} base64-encoded in {Path(path).name}"
    # The check sees them where they belong: each secret is in a Secret object.
    assert in_secrets == set(secrets)


def test_managed_postgres_replaces_the_clusters(managed: Rendered) -> None:
    assert managed.of_kind("Cluster") == [] and managed.of_kind("Database") == []
    keycloak = managed.one("Keycloak")["spec"]
    assert (keycloak["db"]["host"], keycloak["db"]["database"]) == ("db.example.com", "identities")
    credentials = secret_data(managed.one("Secret", keycloak["db"]["passwordSecret"]["name"]))
    assert credentials == {
        "username": "identities_user",
        "password": EXTERNAL_PASSWORDS["identities"],
    }
    deployment = managed.one("Deployment", "mlflow")["spec"]
    assert deployment["replicas"] == 3
    (container,) = deployment["template"]["spec"]["containers"]
    assert "CACHE_BACKEND" not in env_of(container)
    (source,) = container["envFrom"]
    settings = secret_data(managed.one("Secret", source["secretRef"]["name"]))
    assert settings["MLFLOW_BACKEND_STORE_URI"].endswith("@db.example.com:5432/tracking")


def test_cert_manager_certifies_both_hosts(managed: Rendered) -> None:
    ingress = managed.one("Ingress")
    assert ingress["metadata"]["annotations"]["cert-manager.io/cluster-issuer"] == "letsencrypt"
    (tls,) = ingress["spec"]["tls"]
    assert set(tls["hosts"]) == {"mlflow.example.com", "auth.example.com"}

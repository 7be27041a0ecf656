"""The Kubernetes target's resource graph under Pulumi's mock engine (its manifests against a
real API server: tests/k8s)."""

from __future__ import annotations

from tests.support.harness import run_program
from tests.unit.declared import (
    CONTAINER,
    KUBERNETES,
)


def test_on_kubernetes_the_realm_is_declared_through_the_admin_url_with_the_same_components() -> (
    None
):
    stack = run_program(KUBERNETES)
    provider = stack.one("pulumi:providers:keycloak", "keycloak-provider").inputs
    assert provider["url"] == "http://127.0.0.1:8080"  # kubernetes.keycloakAdminUrl's default
    client = stack.one("keycloak:openid/client:Client", "mlflow-client").inputs
    assert client["validRedirectUris"] == ["https://mlflow.example.com/callback"]
    # The secret the stack generated, which MLflow's pods already hold; a secret all the way.
    assert client["clientSecret"]["value"] == "generated-mlflow-client-secret"
    for kind in ("keycloak:index/realm:Realm", "keycloak:index/group:Group"):
        assert stack.of_type(kind), kind
    assert stack.of_type(CONTAINER) == []
    # keycloakWorkload's default: the stack's own StatefulSet, awaited (the realm needs it).
    assert stack.of_type("kubernetes:k8s.keycloak.org/v2alpha1:Keycloak") == []
    statefulset = stack.one("kubernetes:apps/v1:StatefulSet", "keycloak-statefulset").inputs
    assert statefulset["metadata"]["annotations"] == {}
    assert set(stack.exports) >= {"clientSecret", "stackctlClientSecret", "keycloakAdminUrl"}


def test_with_the_operator_keycloak_is_its_resource_and_up_waits_for_it_to_be_ready() -> None:
    kubernetes = {
        "ingressCertificate": "mlflow-tls",
        "artifacts": {"bucket": "ml-artifacts", "accessKeyId": "a", "secretAccessKey": "s"},
        "keycloakWorkload": "operator",
    }
    stack = run_program({**KUBERNETES, "kubernetes": kubernetes})
    assert stack.of_type("kubernetes:apps/v1:StatefulSet") == []
    keycloak = stack.one("kubernetes:k8s.keycloak.org/v2alpha1:Keycloak").inputs
    assert keycloak["metadata"]["annotations"] == {"pulumi.com/waitFor": "condition=Ready"}


def test_the_keycloak_statefulset_takes_its_secrets_from_secrets_and_runs_restricted() -> None:
    stack = run_program(KUBERNETES)
    statefulset = stack.one("kubernetes:apps/v1:StatefulSet", "keycloak-statefulset").inputs
    pod = statefulset["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    env = {item["name"]: item for item in container["env"]}
    for name in ("KC_DB_PASSWORD", "KC_BOOTSTRAP_ADMIN_PASSWORD", "KC_DB_USERNAME"):
        assert "value" not in env[name] and env[name]["valueFrom"]["secretKeyRef"], name
    assert env["KC_CACHE_STACK"]["value"] == "jdbc-ping"
    assert env["KC_PROXY_HEADERS"]["value"] == "xforwarded"
    # From the ingress controller's pods only (kubernetes.trustedProxies' default).
    assert env["KC_PROXY_TRUSTED_ADDRESSES"]["value"] == "10.0.0.0/8"
    assert env["KC_HOSTNAME"]["value"] == "https://auth.example.com"
    assert statefulset["spec"]["serviceName"] == "keycloak-discovery"
    assert container["readinessProbe"]["httpGet"]["port"] == 9000
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert pod["automountServiceAccountToken"] is False
    service = stack.one("kubernetes:core/v1:Service", "keycloak-service").inputs
    assert service["metadata"]["name"] == "keycloak-service"


def test_the_namespace_admits_only_restricted_pods() -> None:
    stack = run_program(KUBERNETES)
    labels = stack.one("kubernetes:core/v1:Namespace").inputs["metadata"]["labels"]
    for mode in ("enforce", "warn", "audit"):
        assert labels[f"pod-security.kubernetes.io/{mode}"] == "restricted", mode

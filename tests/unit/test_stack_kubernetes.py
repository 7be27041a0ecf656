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
    keycloak = stack.one("kubernetes:k8s.keycloak.org/v2alpha1:Keycloak").inputs
    assert keycloak["metadata"]["annotations"] == {"pulumi.com/waitFor": "condition=Ready"}
    assert set(stack.exports) >= {"clientSecret", "stackctlClientSecret", "keycloakAdminUrl"}

"""Tier 3 of the kubernetes target: a real `pulumi up` against a real API server with its
controllers, its scheduler and a kwok node (kwokctl's cluster of binaries built from the Go
module proxy: tests/k8s/cluster.py). Deployments,
Services and custom resources are created for real and the provider's await logic sees the
MLflow pods ready; a second `up` changes nothing; `destroy` leaves no namespace behind.

What kwok cannot show: containers running. Its pods become Ready without an image or a
process, and no operator reconciles the Keycloak or CloudNativePG resources."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.k8s.cluster import NODE
from tests.k8s.kubectl import Kubectl
from tests.k8s.rendered import ACCESS_KEY_ID, BASE_CONFIG, SECRET_ACCESS_KEY
from tests.support.project import CliProject

NAMESPACE = "mlflow-live"
STACK = "k8s-live"


@pytest.fixture(scope="module")
def live(k8s_project: CliProject, cluster: Kubectl) -> Iterator[CliProject]:
    """The stack brought up on the cluster (workloads only: no Keycloak answers here)."""
    project = k8s_project
    project.new_stack(
        STACK,
        {
            **BASE_CONFIG,
            "protectData": False,  # destroyed by the last test
            "kubernetes": {
                "namespace": NAMESPACE,
                "kubeconfig": str(cluster.kubeconfig),
                "profile": "dev",
                "ingressCertificate": "mlflow-tls",
                "configureRealm": False,
                "artifacts": {"bucket": "live-artifacts"},
            },
        },
    )
    for path, value in {
        "kubernetes.artifacts.accessKeyId": ACCESS_KEY_ID,
        "kubernetes.artifacts.secretAccessKey": SECRET_ACCESS_KEY,
    }.items():
        project.must("config", "set", "--stack", STACK, "--secret", "--path", path, value)
    up = project.run("up", "--yes", "--skip-preview", "--stack", STACK)
    print(up.stdout, up.stderr)
    assert up.returncode == 0, up.stdout + up.stderr
    yield project
    project.run("destroy", "--yes", "--stack", STACK)


def test_up_creates_the_workloads_and_waits_for_mlflow_to_be_ready(
    live: CliProject, cluster: Kubectl
) -> None:
    deployment = cluster.get("deployment", "mlflow", "-n", NAMESPACE)
    print(f"mlflow deployment status: {deployment['status']}")
    assert deployment["status"]["readyReplicas"] == 2
    pods = cluster.get("pods", "-n", NAMESPACE, "-l", "app.kubernetes.io/name=mlflow")["items"]
    assert len(pods) == 2
    assert {pod["spec"]["nodeName"] for pod in pods} == {NODE}
    slices = cluster.get(
        "endpointslices", "-n", NAMESPACE, "-l", "kubernetes.io/service-name=mlflow"
    )["items"]
    ready = [e for s in slices for e in s.get("endpoints") or [] if e["conditions"].get("ready")]
    assert len(ready) == 2
    for kind, name in (
        ("clusters.postgresql.cnpg.io", "mlflow-db"),
        ("clusters.postgresql.cnpg.io", "keycloak-db"),
        ("databases.postgresql.cnpg.io", "mlflow-db-mlflow-auth"),
        # keycloakWorkload's default: the stack's own StatefulSet and Services, no operator.
        ("statefulset", "keycloak"),
        ("service", "keycloak-service"),
        ("service", "keycloak-discovery"),
        ("poddisruptionbudget", "mlflow"),
        ("ingress", "mlflow-keycloak"),
        ("secret", "mlflow-settings"),
    ):
        assert cluster.exists(kind, name, "-n", NAMESPACE), (kind, name)
    assert not cluster.get("keycloaks.k8s.keycloak.org", "-n", NAMESPACE)["items"]
    clusters = cluster.get("clusters.postgresql.cnpg.io", "-n", NAMESPACE)["items"]
    assert {c["spec"]["instances"] for c in clusters} == {1}  # the dev profile


def test_a_second_up_changes_nothing(live: CliProject) -> None:
    again = live.run("up", "--yes", "--skip-preview", "--expect-no-changes", "--stack", STACK)
    print(again.stdout, again.stderr)
    assert again.returncode == 0, again.stdout + again.stderr


def test_destroy_leaves_no_namespace_behind(live: CliProject, cluster: Kubectl) -> None:
    destroyed = live.run("destroy", "--yes", "--stack", STACK)
    print(destroyed.stdout, destroyed.stderr)
    assert destroyed.returncode == 0, destroyed.stdout + destroyed.stderr
    assert not cluster.exists("namespace", NAMESPACE)
    assert live.resources(STACK) == []

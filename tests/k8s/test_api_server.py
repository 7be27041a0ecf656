"""Tier 2 of the kubernetes target: a real kube-apiserver (kwokctl's cluster of binaries built
from the Go module proxy by toolchain/kube.sh: tests/k8s/cluster.py) holding the Keycloak
Operator's and CloudNativePG's CRDs accepts every rendered manifest with `kubectl apply
--dry-run=server --validate=strict`, and refuses a broken one, so the check can fail."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.k8s.kubectl import Kubectl
from tests.k8s.rendered import Rendered


@pytest.fixture(scope="module")
def api(cluster: Kubectl) -> Kubectl:
    return cluster


def create_namespaces(api: Kubectl, rendered: Rendered) -> None:
    """For real: a dry run cannot create the namespace the other objects live in."""
    for namespace in rendered.of_kind("Namespace"):
        api.apply(namespace)


def rejections(api: Kubectl, rendered: Rendered) -> list[str]:
    """Dry-run every manifest in its namespace; what the server refused, with its reason."""
    create_namespaces(api, rendered)
    refused = []
    for manifest in rendered.manifests:
        done = api.dry_run(manifest)
        name = f"{manifest['kind']}/{manifest['metadata']['name']}"
        print(f"{name}: {(done.stdout + done.stderr).strip()}")
        if done.returncode != 0:
            refused.append(f"{name}: {done.stderr.strip()}")
    return refused


@pytest.mark.parametrize("case", ["production", "managed"])
def test_every_rendered_manifest_is_accepted_by_the_api_server(
    api: Kubectl, request: pytest.FixtureRequest, case: str
) -> None:
    rendered: Rendered = request.getfixturevalue(case)
    assert len(rendered.manifests) >= 8
    assert rejections(api, rendered) == []


def broken(manifest: dict[str, Any], path: list[str], value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(manifest)
    node = changed
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return changed


@pytest.mark.parametrize(
    ("kind", "path", "value", "reason"),
    [
        ("Cluster", ["spec", "instances"], 0, "spec.instances"),
        (
            "Cluster",
            ["spec", "replicaCount"],
            3,
            ".spec.replicaCount: field not declared in schema",
        ),
        ("Keycloak", ["spec", "instance"], 2, ".spec.instance: field not declared in schema"),
        ("Deployment", ["spec", "replicas"], "two", "spec.replicas"),
    ],
    ids=["cnpg-zero-instances", "cnpg-unknown-field", "keycloak-unknown-field", "replicas-text"],
)
def test_a_broken_manifest_is_refused(
    api: Kubectl, production: Rendered, kind: str, path: list[str], value: Any, reason: str
) -> None:
    original = production.of_kind(kind)[0]
    create_namespaces(api, production)
    assert api.dry_run(original).returncode == 0
    done = api.dry_run(broken(original, path, value))
    print(done.stderr)
    assert done.returncode != 0
    assert reason in done.stderr

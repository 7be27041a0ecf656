"""The pack on the stack as __main__.py declares it, as a `pulumi preview --policy-pack` would.

The real preview needs the provider plugins. Here the real program runs under Pulumi's mock
engine (tests/support/harness.py), and each declared resource goes through the SDK's own Analyze:
its type token and engine-side inputs, with secrets still marked as the engine sends them.
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from policy_wire import make_analyzer, secret
from stack_policies.pack import RULES
from stack_policies.resource_types import CONTAINER, REMOTE_IMAGE

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.support.harness import Declared, DeclaredStack, run_program  # noqa: E402

# (resource name, policy name, message); every policy of the pack is mandatory.
Violation = tuple[str, str, str]


def violations(resources: list[Declared]) -> list[Violation]:
    analyze = make_analyzer()
    return [
        (resource.name, policy, message)
        for resource in resources
        for policy, message in analyze(resource.type, resource.inputs, name=resource.name)
    ]


def violations_with(overrides: Mapping[str, Any]) -> list[Violation]:
    return violations(run_program(overrides).resources)


@pytest.fixture(scope="module")
def stack() -> DeclaredStack:
    return run_program()


def test_the_stack_as_declared_passes_every_policy(stack: DeclaredStack) -> None:
    assert violations(stack.resources) == []


def test_the_stack_declares_every_resource_type_the_pack_reads(stack: DeclaredStack) -> None:
    read = {resource_type for rule in RULES for resource_type in rule.resource_types}
    assert read <= {resource.type for resource in stack.resources}


def test_the_pack_passes_the_stack_because_its_container_secrets_arrive_marked(
    stack: DeclaredStack,
) -> None:
    resources = copy.deepcopy(stack.resources)
    mlflow = next(r for r in resources if r.type == CONTAINER and r.name == "mlflow")
    assert mlflow.inputs["envs"] == secret(mlflow.inputs["envs"]["value"])
    mlflow.inputs["envs"] = mlflow.inputs["envs"]["value"]
    found = violations(resources)
    assert found and {(name, policy) for name, policy, _ in found} == {
        ("mlflow", "container-secrets-not-plaintext")
    }


def test_a_stack_published_on_all_interfaces_is_refused_by_the_loopback_policy() -> None:
    found = violations_with({"bindAddress": "0.0.0.0", "tls": "internal"})
    # Only the edge proxy publishes beyond loopback (HTTPS and its redirect): the pack still
    # asks for the address to be allowed explicitly.
    assert sorted((name, policy) for name, policy, _ in found) == [
        ("proxy", "ports-on-loopback-only"),
        ("proxy", "ports-on-loopback-only"),
    ]
    for _, _, message in found:
        assert "is published on 0.0.0.0 (every interface)" in message
        assert "Fix: publish on loopback with `pulumi config set " in message
        assert "mlflow-keycloak-stack:bindAddress 127.0.0.1`" in message


def test_a_two_hour_access_token_is_refused_by_the_token_lifespan_policy() -> None:
    # The stack config refuses more than 15m itself (the same bound), so weaken the declared
    # realm instead, as a stack with an edited program would.
    resources = copy.deepcopy(run_program().resources)
    realm = next(r for r in resources if r.type == "keycloak:index/realm:Realm")
    realm.inputs["accessTokenLifespan"] = "2h0m0s"
    found = violations(resources)
    assert [(name, policy) for name, policy, _ in found] == [
        ("realm", "keycloak-access-token-lifespan")
    ]
    message = found[0][2]
    assert "is 7200 s, longer than the allowed 900 s" in message
    assert "Fix: lower it with `pulumi config set " in message
    assert "mlflow-keycloak-stack:accessTokenLifespan 5m`" in message


def test_the_stack_config_and_the_policy_share_one_lifespan_bound() -> None:
    from stackrules.durations import ACCESS_TOKEN_LIFESPAN_BOUNDS

    resources = copy.deepcopy(run_program({"accessTokenLifespan": "15m"}).resources)
    assert violations(resources) == []
    assert ACCESS_TOKEN_LIFESPAN_BOUNDS[1] == 900


def test_a_keycloak_image_on_the_latest_tag_is_refused_by_the_pinned_image_policy() -> None:
    declared = run_program({"keycloakImage": "quay.io/keycloak/keycloak:26.4.7"}).resources
    assert violations(declared) == []
    # The stack config refuses `latest` itself, so weaken the declared pull instead.
    resources = copy.deepcopy(declared)
    pull = next(r for r in resources if r.type == REMOTE_IMAGE and r.name == "keycloak-image")
    assert pull.inputs["name"] == "quay.io/keycloak/keycloak:26.4.7"
    pull.inputs["name"] = "quay.io/keycloak/keycloak:latest"
    found = violations(resources)
    assert [(name, policy) for name, policy, _ in found] == [("keycloak-image", "images-pinned")]
    assert "'quay.io/keycloak/keycloak:latest' uses the moving tag 'latest'" in found[0][2]
    assert "Fix: pin a version tag or an @sha256 digest in the stack config" in found[0][2]

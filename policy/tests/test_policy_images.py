"""Image pinning: tags other than latest, digests and image IDs pass; untagged and latest fail."""

from __future__ import annotations

import pytest
from stack_policies.images import images_pinned
from stack_policies.props import UNKNOWN
from stack_policies.resource_types import BUILT_IMAGE, CONTAINER, REMOTE_IMAGE
from stack_policies.rule import Resource

from stackrules.images import image_tag, pinning_problem

DIGEST = "sha256:" + "0123456789abcdef" * 4


@pytest.mark.parametrize(
    "reference",
    [
        "postgres:17",
        "mlflow-stack/keycloak:26.4.7-trixie",
        "localhost:5000/mlflow:3.17.2",
        f"quay.io/keycloak/keycloak@{DIGEST}",
        f"postgres:17@{DIGEST}",
        DIGEST,
        DIGEST.removeprefix("sha256:"),
    ],
)
def test_pinned_references(reference: str) -> None:
    assert pinning_problem(reference) is None


@pytest.mark.parametrize(
    ("reference", "problem"),
    [
        ("postgres", "no tag"),
        ("localhost:5000/mlflow", "no tag"),
        ("postgres:latest", "'latest'"),
        ("postgres:", "empty tag"),
    ],
)
def test_unpinned_references(reference: str, problem: str) -> None:
    assert problem in (pinning_problem(reference) or "")


def test_registry_port_is_not_a_tag() -> None:
    assert image_tag("localhost:5000/team/app") is None
    assert image_tag("localhost:5000/team/app:1.2") == "1.2"


def test_each_image_resource_is_read_at_its_own_property() -> None:
    assert images_pinned.violations(Resource(REMOTE_IMAGE, {"name": "postgres:latest"}))
    assert images_pinned.violations(Resource(BUILT_IMAGE, {"imageName": "mlflow"}))
    assert images_pinned.violations(Resource(CONTAINER, {"image": "keycloak", "name": "kc"}))
    assert images_pinned.violations(Resource(CONTAINER, {"image": DIGEST, "name": "kc"})) == []


def test_built_image_fix_differs_from_pulled_image_fix() -> None:
    [built] = images_pinned.violations(Resource(BUILT_IMAGE, {"imageName": "mlflow"}))
    [pulled] = images_pinned.violations(Resource(REMOTE_IMAGE, {"name": "postgres"}))
    assert "tag the built image" in built
    assert "mlflow-keycloak-stack:postgresImage" in pulled


def test_image_id_unknown_until_the_pull_is_not_judged() -> None:
    assert images_pinned.violations(Resource(CONTAINER, {"image": UNKNOWN})) == []

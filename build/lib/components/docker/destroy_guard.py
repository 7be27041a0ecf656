"""What makes `destroy` of a protected stack refuse before it deletes anything.

Pulumi's `destroy` deletes every resource that is not protected, dependents first, and fails
only when it reaches a protected one: protecting the data alone let a destroy delete MLflow's
container and every Keycloak user before it stopped at the realm (tests/e2e/test_99_destroy.py
saw it). The guard is a resource that depends on every other one, so a destroy must delete it
first; protected, it stops the destroy there, with nothing touched."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pulumi
import pulumi_random as random

NAME = "destroy-guard"


@contextmanager
def destroy_guard(protect: bool) -> Iterator[None]:
    """Every resource declared inside the block is a dependency of the guard declared after
    it, protected with `protect` (`protectData`). Declared on every stack, protected or not:
    dropping a protected resource from the program would fail the `up` that drops it."""
    declared: list[pulumi.Resource] = []

    def record(args: pulumi.ResourceTransformationArgs) -> None:
        if not isinstance(args.resource, pulumi.ComponentResource):
            declared.append(args.resource)

    pulumi.runtime.register_stack_transformation(record)
    yield
    random.RandomId(
        NAME,
        byte_length=4,
        opts=pulumi.ResourceOptions(protect=protect, depends_on=list(declared)),
    )

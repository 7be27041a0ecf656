"""What every component of the stack is: a ComponentResource typed by its class name."""

from __future__ import annotations

import pulumi
import pulumi_docker as docker

Options = pulumi.ResourceOptions | None


class StackComponent(pulumi.ComponentResource):
    """A component whose type token is ``mlflowstack:index:<class name>``; ``child`` are the
    options of the resources it creates. Renaming the class changes every child's identity,
    which tests/unit/test_resource_identity.py catches."""

    child: pulumi.ResourceOptions

    def __init__(self, name: str, opts: Options = None) -> None:
        super().__init__(f"mlflowstack:index:{type(self).__name__}", name, None, opts)
        self.child = pulumi.ResourceOptions(parent=self)


def data_options(
    parent: pulumi.Resource, protect: bool, depends_on: list[pulumi.Resource] | None = None
) -> pulumi.ResourceOptions:
    """Options of a resource that holds data (a volume, a database, the realm, a Postgres
    cluster): with `protect` (`protectData`, on outside the dev stack), `destroy` refuses to
    delete it and, should its protection be lifted in the state alone (`pulumi state
    unprotect`), a delete leaves it in place rather than dropping it."""
    return pulumi.ResourceOptions(
        parent=parent, protect=protect, retain_on_delete=protect, depends_on=depends_on
    )


def provider_options(
    container: docker.Container, parent: pulumi.Resource, *also: pulumi.Resource
) -> pulumi.ResourceOptions:
    """Options of the provider that manages what lives inside `container`: the component's
    child, used once the container is healthy. Released at the stack's root, hence the alias."""
    return pulumi.ResourceOptions(
        parent=parent,
        depends_on=[container, *also],
        aliases=[pulumi.Alias(parent=pulumi.ROOT_STACK_RESOURCE)],
    )


def secret_outputs(opts: pulumi.ResourceOptions | None, *names: str) -> pulumi.ResourceOptions:
    """`opts` with a dynamic resource's outputs `names` kept secret in the state (the engine
    stores a dynamic provider's outputs in plain text otherwise)."""
    hidden = pulumi.ResourceOptions(additional_secret_outputs=list(names))
    return pulumi.ResourceOptions.merge(opts, hidden)

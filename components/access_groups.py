"""The groups that admit people to MLflow, each with a realm role of the same name."""

from __future__ import annotations

from typing import TypedDict

import pulumi
import pulumi_keycloak as keycloak

from components.stack_component import Options, StackComponent


class AccessGroupsArgs(TypedDict):
    realm_id: pulumi.Input[str]
    names: list[str]


class AccessGroups(StackComponent):
    """Groups named as mlflow-oidc-auth expects (users and admins), roles mirrored onto them.

    The groups claim is what MLflow reads; the roles let other clients of the realm make the
    same distinction from `realm_access.roles`.
    """

    group_ids: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: AccessGroupsArgs, opts: Options = None) -> None:
        super().__init__(name, opts)
        self.group_ids = {}
        for group_name in args["names"]:
            group = keycloak.Group(
                f"{name}-{group_name}", realm_id=args["realm_id"], name=group_name, opts=self.child
            )
            role = keycloak.Role(
                f"{name}-{group_name}-role",
                realm_id=args["realm_id"],
                name=group_name,
                description=f"Members of group {group_name}",
                opts=self.child,
            )
            keycloak.GroupRoles(
                f"{name}-{group_name}-roles",
                realm_id=args["realm_id"],
                group_id=group.id,
                role_ids=[role.id],
                exhaustive=True,
                opts=self.child,
            )
            self.group_ids[group_name] = group.id
        self.register_outputs({"groups": list(self.group_ids)})

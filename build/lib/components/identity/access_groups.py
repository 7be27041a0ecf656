"""The groups that admit people to MLflow (users, admins, teams), each with a realm role of the
same name."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NotRequired, TypedDict

import pulumi
import pulumi_keycloak as keycloak

from components.stack_component import Options, StackComponent


class AccessGroupsArgs(TypedDict):
    realm_id: pulumi.Input[str]
    names: list[str]
    # What each group is for, shown on its role in the admin console (teams have one).
    descriptions: NotRequired[Mapping[str, str]]
    # Further realm roles a group's members hold (the second factor's otp-required).
    extra_roles: NotRequired[Mapping[str, Sequence[pulumi.Input[str]]]]


class AccessGroups(StackComponent):
    """Groups named as mlflow-oidc-auth expects (users, admins, teams), roles mirrored onto them.

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
                description=args.get("descriptions", {}).get(group_name)
                or f"Members of group {group_name}",
                opts=self.child,
            )
            keycloak.GroupRoles(
                f"{name}-{group_name}-roles",
                realm_id=args["realm_id"],
                group_id=group.id,
                role_ids=[role.id, *args.get("extra_roles", {}).get(group_name, [])],
                exhaustive=True,
                opts=self.child,
            )
            self.group_ids[group_name] = group.id
        self.register_outputs({"groups": list(self.group_ids)})

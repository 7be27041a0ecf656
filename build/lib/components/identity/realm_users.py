"""The people who may sign in, with generated temporary passwords."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypedDict

import pulumi
import pulumi_keycloak as keycloak
import pulumi_random as random

from components.stack_component import Options, StackComponent
from stackconfig import UserSpec
from stackrules.names import UPDATE_PASSWORD


class RealmUsersArgs(TypedDict):
    realm_id: pulumi.Input[str]
    users: Sequence[UserSpec]
    group_ids: Mapping[str, pulumi.Input[str]]


class RealmUsers(StackComponent):
    """One Keycloak user per configured person, placed in their groups and teams.

    The initial password is generated and temporary: Keycloak makes the person choose their
    own at first sign-in, so the generated one is only ever a one-time handover secret.
    `initial_passwords` holds only the people who have not used theirs yet: each `up` reads
    from Keycloak whether they still must replace it.
    """

    initial_passwords: pulumi.Output[dict[str, str]]

    def __init__(self, name: str, args: RealmUsersArgs, opts: Options = None) -> None:
        super().__init__(name, opts)
        passwords: dict[str, pulumi.Output[list[Any]]] = {}
        for spec in args["users"]:
            password = random.RandomPassword(
                f"{name}-{spec.username}-password", length=20, min_special=1, opts=self.child
            )
            user = keycloak.User(
                f"{name}-{spec.username}",
                realm_id=args["realm_id"],
                username=spec.username,
                email=spec.email,
                email_verified=True,
                first_name=spec.first_name,
                last_name=spec.last_name,
                enabled=spec.enabled,
                initial_password=keycloak.UserInitialPasswordArgs(
                    value=pulumi.Output.secret(password.result), temporary=True
                ),
                # Keycloak owns requiredActions: it adds UPDATE_PASSWORD for the temporary
                # password and drops it once the person has chosen theirs. Declaring it would
                # make every `up` either diff or force a second password change.
                opts=self.child.merge(pulumi.ResourceOptions(ignore_changes=["requiredActions"])),
            )
            memberships = [*spec.groups, *spec.teams]
            if memberships:
                keycloak.UserGroups(
                    f"{name}-{spec.username}-groups",
                    realm_id=args["realm_id"],
                    user_id=user.id,
                    group_ids=[args["group_ids"][group] for group in memberships],
                    exhaustive=True,
                    opts=self.child,
                )
            unused = keycloak.get_user_output(
                realm_id=user.realm_id,
                username=user.username,
                opts=pulumi.InvokeOutputOptions(parent=self, depends_on=[user]),
            ).required_actions.apply(lambda actions: UPDATE_PASSWORD in actions)
            passwords[spec.username] = pulumi.Output.all(unused, password.result)
        collected = pulumi.Output.all(**passwords) if passwords else pulumi.Output.from_input({})
        self.initial_passwords = pulumi.Output.secret(
            collected.apply(
                lambda handed: {name: secret for name, (unused, secret) in handed.items() if unused}
            )
        )
        self.register_outputs({})

"""The account stackctl works as: scoped to the stack's realm, with only what its commands need.

A confidential client with the client-credentials grant alone; its service account holds
exactly these roles of the realm's `realm-management` client, and nothing in master:
- view-realm (token policy, event settings), view-clients and query-clients (sessions by
  client), view-users and query-users (sessions, usernames), view-events (audit trail);
- manage-users (log people out, end a session, disable a person).
No role to change the realm, its clients or its roles.
"""

from __future__ import annotations

from typing import TypedDict

import pulumi
import pulumi_keycloak as keycloak

from components.stack_component import Options, StackComponent

OPERATOR_ROLES = (
    "view-realm",
    "view-clients",
    "query-clients",
    "view-users",
    "query-users",
    "view-events",
    "manage-users",
)


class OperatorClientArgs(TypedDict):
    realm_id: pulumi.Input[str]
    client_id: str
    provider: keycloak.Provider


class OperatorClient(StackComponent):
    client: keycloak.openid.Client
    client_secret: pulumi.Output[str]

    def __init__(self, name: str, args: OperatorClientArgs, opts: Options = None) -> None:
        super().__init__(name, opts)
        self.client = keycloak.openid.Client(
            name,
            realm_id=args["realm_id"],
            client_id=args["client_id"],
            name="stackctl (operator CLI)",
            service_accounts_enabled=True,  # the client-credentials grant, and nothing else:
            access_type="CONFIDENTIAL",
            standard_flow_enabled=False,
            implicit_flow_enabled=False,
            direct_access_grants_enabled=False,
            opts=self.child,
        )
        # Every realm has it; read once the realm exists (unknown, so skipped, in a preview
        # of a new stack).
        management = keycloak.openid.get_client_output(
            realm_id=args["realm_id"],
            client_id="realm-management",
            opts=pulumi.InvokeOutputOptions(parent=self, provider=args["provider"]),
        )
        for role in OPERATOR_ROLES:
            keycloak.openid.ClientServiceAccountRole(
                f"{name}-{role}",
                realm_id=args["realm_id"],
                service_account_user_id=self.client.service_account_user_id,
                client_id=management.id,
                role=role,
                opts=self.child,
            )
        self.client_secret = pulumi.Output.secret(self.client.client_secret)
        self.register_outputs({})

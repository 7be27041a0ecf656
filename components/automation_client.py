"""An optional service-account client through which scripts and CI reach MLflow's API."""

from __future__ import annotations

from typing import TypedDict

import pulumi
import pulumi_keycloak as keycloak

from components.mlflow_claims import add_mlflow_claims


class AutomationClientArgs(TypedDict):
    realm_id: pulumi.Input[str]
    client_id: str
    audience: pulumi.Input[str]
    group_ids: list[pulumi.Input[str]]


class AutomationClient(pulumi.ComponentResource):
    """A confidential client with only the client-credentials grant.

    Its service-account user sits in the groups MLflow admits, and its tokens carry MLflow's
    client id as audience and a flat groups claim, so mlflow-oidc-auth accepts them as bearer
    tokens the way it accepts a person's.
    """

    client: keycloak.openid.Client
    client_id: pulumi.Output[str]
    client_secret: pulumi.Output[str]

    def __init__(
        self, name: str, args: AutomationClientArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlflowstack:index:AutomationClient", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.client = keycloak.openid.Client(
            name,
            realm_id=args["realm_id"],
            client_id=args["client_id"],
            name="MLflow automation",
            enabled=True,
            access_type="CONFIDENTIAL",
            standard_flow_enabled=False,
            implicit_flow_enabled=False,
            direct_access_grants_enabled=False,
            service_accounts_enabled=True,
            opts=child,
        )
        add_mlflow_claims(name, args["realm_id"], self.client, args["audience"], self)
        keycloak.UserGroups(
            f"{name}-groups-membership",
            realm_id=args["realm_id"],
            user_id=self.client.service_account_user_id,
            group_ids=args["group_ids"],
            exhaustive=True,
            opts=child,
        )
        self.client_id = self.client.client_id
        self.client_secret = pulumi.Output.secret(self.client.client_secret)
        self.register_outputs({"client_id": self.client_id})

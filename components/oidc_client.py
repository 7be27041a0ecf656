"""The confidential OIDC client MLflow signs users in with, and the claims it needs."""

from __future__ import annotations

from typing import TypedDict

import pulumi
import pulumi_keycloak as keycloak

from components.mlflow_claims import add_mlflow_claims

# mlflow-oidc-auth's landing page after Keycloak's end_session redirect.
POST_LOGOUT_PATH = "/oidc/ui/auth"
CALLBACK_PATH = "/callback"


class MlflowOidcClientArgs(TypedDict):
    realm_id: pulumi.Input[str]
    client_id: str
    mlflow_url: str
    direct_access_grants: bool


class MlflowOidcClient(pulumi.ComponentResource):
    """Client `mlflow`: exact redirect URIs, PKCE, and the claims MLflow reads (groups in the
    ID token, its own client id as the access tokens' audience)."""

    client: keycloak.openid.Client
    client_id: pulumi.Output[str]
    client_secret: pulumi.Output[str]
    redirect_uri: str

    def __init__(
        self, name: str, args: MlflowOidcClientArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlflowstack:index:MlflowOidcClient", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        url = args["mlflow_url"]
        self.redirect_uri = f"{url}{CALLBACK_PATH}"
        self.client = keycloak.openid.Client(
            name,
            realm_id=args["realm_id"],
            client_id=args["client_id"],
            name="MLflow",
            enabled=True,
            access_type="CONFIDENTIAL",
            standard_flow_enabled=True,
            implicit_flow_enabled=False,
            direct_access_grants_enabled=args["direct_access_grants"],
            service_accounts_enabled=False,
            root_url=url,
            base_url=url,
            valid_redirect_uris=[self.redirect_uri],
            valid_post_logout_redirect_uris=[f"{url}{POST_LOGOUT_PATH}"],
            web_origins=[url],
            pkce_code_challenge_method="S256",
            opts=child,
        )
        add_mlflow_claims(name, args["realm_id"], self.client, self.client.client_id, self)
        self.client_id = self.client.client_id
        self.client_secret = pulumi.Output.secret(self.client.client_secret)
        self.register_outputs({"client_id": self.client_id})

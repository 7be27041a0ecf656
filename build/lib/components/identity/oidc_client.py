"""A confidential OIDC client of the realm whose tokens MLflow accepts: MLflow's own (people
signing in with a browser) or the automation client (scripts and CI, no person involved)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NotRequired, TypedDict

import pulumi
import pulumi_keycloak as keycloak

from components.identity.mlflow_claims import add_mlflow_claims
from components.stack_component import Options, StackComponent

# mlflow-oidc-auth's landing page after Keycloak's end_session redirect.
POST_LOGOUT_PATH = "/oidc/ui/auth"
CALLBACK_PATH = "/callback"


class BrowserSignIn(TypedDict):
    """MLflow's sign-in: the authorization-code flow with PKCE, back to MLflow's callback."""

    mlflow_url: str
    direct_access_grants: bool


class OidcClientArgs(TypedDict):
    realm_id: pulumi.Input[str]
    client_id: str
    display_name: str
    # The `aud` MLflow checks (its own client id); unset: this client's own id.
    audience: NotRequired[pulumi.Input[str]]
    # One of the two: people sign in through this client, or its service account is a member
    # of these groups (client-credentials grant only).
    browser_sign_in: NotRequired[BrowserSignIn]
    service_account_group_ids: NotRequired[Sequence[pulumi.Input[str]]]
    # A secret the stack generated (on Kubernetes: MLflow's pods get it without waiting for
    # Keycloak); unset: Keycloak generates one.
    client_secret: NotRequired[pulumi.Input[str]]


# Where each kind of client lived before the two were one component.
_RELEASED_TYPES = {
    True: "mlflowstack:index:MlflowOidcClient",
    False: "mlflowstack:index:AutomationClient",
}


class OidcClient(StackComponent):
    """Confidential, exact redirect URIs, and the claims MLflow reads in every token: a flat
    groups claim and MLflow's client id as audience. A browser client has no service account;
    an automation client has only the client-credentials grant."""

    client: keycloak.openid.Client
    client_id: pulumi.Output[str]
    client_secret: pulumi.Output[str]
    _redirect_uri: str | None

    def __init__(self, name: str, args: OidcClientArgs, opts: Options = None) -> None:
        browser = args.get("browser_sign_in")
        groups = args.get("service_account_group_ids")
        if (browser is None) == (groups is None):
            raise ValueError(
                f"{name}: give exactly one of browser_sign_in, service_account_group_ids"
            )
        moved = pulumi.ResourceOptions(aliases=[pulumi.Alias(type_=_RELEASED_TYPES[bool(browser)])])
        super().__init__(name, pulumi.ResourceOptions.merge(opts, moved))
        url = browser["mlflow_url"] if browser else None
        self._redirect_uri = f"{url}{CALLBACK_PATH}" if url else None
        self.client = keycloak.openid.Client(
            name,
            realm_id=args["realm_id"],
            client_id=args["client_id"],
            name=args["display_name"],
            enabled=True,
            access_type="CONFIDENTIAL",
            standard_flow_enabled=bool(browser),
            implicit_flow_enabled=False,
            direct_access_grants_enabled=bool(browser and browser["direct_access_grants"]),
            service_accounts_enabled=groups is not None,
            root_url=url,
            base_url=url,
            valid_redirect_uris=[self._redirect_uri] if self._redirect_uri else None,
            valid_post_logout_redirect_uris=[f"{url}{POST_LOGOUT_PATH}"] if url else None,
            web_origins=[url] if url else None,
            pkce_code_challenge_method="S256" if browser else None,
            client_secret=args.get("client_secret"),
            opts=self.child,
        )
        audience = args.get("audience", self.client.client_id)
        add_mlflow_claims(name, args["realm_id"], self.client, audience, self)
        if groups is not None:
            keycloak.UserGroups(
                f"{name}-groups-membership",
                realm_id=args["realm_id"],
                user_id=self.client.service_account_user_id,
                group_ids=list(groups),
                exhaustive=True,
                opts=self.child,
            )
        self.client_id = self.client.client_id
        self.client_secret = pulumi.Output.secret(self.client.client_secret)
        self.register_outputs({"client_id": self.client_id})

    @property
    def redirect_uri(self) -> str:
        """MLflow's callback, the one redirect URI a browser client accepts."""
        if self._redirect_uri is None:
            raise TypeError("an automation client has no redirect URI")
        return self._redirect_uri

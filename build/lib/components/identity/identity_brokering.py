"""Corporate OpenID Connect IdPs brokered by the realm: a "Sign in with ..." button each, and
the IdP's groups claim mapped onto the stack's teams.

Keycloak needs the IdP's endpoints, which its discovery document lists. Keycloak itself reads
that document (its admin API's import-config, the console's "Discovery endpoint" field), so
the URL is resolved from where Keycloak runs, not from where `pulumi up` runs: one
`OidcDiscovery` dynamic resource per IdP, refreshed by `pulumi refresh`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, TypedDict

import httpx
import pulumi
import pulumi_keycloak as keycloak
from pulumi import dynamic

from components.stack_component import Options, StackComponent, secret_outputs
from stackconfig import IdentityProviderSpec

TIMEOUT = httpx.Timeout(30.0)
# The endpoints Keycloak's import-config reports, as the resource's outputs name them.
ENDPOINTS = {
    "authorizationUrl": "authorization_url",
    "tokenUrl": "token_url",
    "userInfoUrl": "user_info_url",
    "jwksUrl": "jwks_url",
    "issuer": "issuer",
    "logoutUrl": "logout_url",
}


class DiscoveryError(Exception):
    """Keycloak could not read the IdP's discovery document; the message says why."""


class KeycloakAdmin(TypedDict):
    """Keycloak's admin API as this host reaches it, and the bootstrap admin's login."""

    url: pulumi.Input[str]
    username: pulumi.Input[str]
    password: pulumi.Input[str]


def _discover(props: dict[str, Any]) -> dict[str, str]:
    with httpx.Client(base_url=props["url"], timeout=TIMEOUT) as api:
        granted = api.post(
            "/realms/master/protocol/openid-connect/token",
            data={
                "grant_type": "password",
                "client_id": "admin-cli",
                "username": props["username"],
                "password": props["password"],
            },
        )
        if granted.status_code != 200:
            raise DiscoveryError(f"Keycloak refused its admin ({granted.status_code})")
        imported = api.post(
            f"/admin/realms/{props['realm']}/identity-provider/import-config",
            json={"providerId": "oidc", "fromUrl": props["discovery_url"]},
            headers={"Authorization": f"Bearer {granted.json()['access_token']}"},
        )
    if imported.status_code != 200:
        raise DiscoveryError(
            f"Keycloak could not read {props['discovery_url']} ({imported.status_code}: "
            f"{imported.text[:300]}); the URL must be reachable from Keycloak's container"
        )
    found = imported.json()
    return {output: str(found.get(name) or "") for name, output in ENDPOINTS.items()}


class OidcDiscoveryProvider(dynamic.ResourceProvider):
    """Create/update/read: the endpoints Keycloak reads from the discovery URL now."""

    def create(self, props: dict[str, Any]) -> dynamic.CreateResult:
        return dynamic.CreateResult(props["discovery_url"], {**props, **_discover(props)})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.DiffResult:
        changed = [key for key in ("discovery_url", "realm", "url") if olds.get(key) != news[key]]
        return dynamic.DiffResult(changes=bool(changed))

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> dynamic.UpdateResult:
        return dynamic.UpdateResult({**news, **_discover(news)})

    def read(self, id_: str, props: dict[str, Any]) -> dynamic.ReadResult:
        return dynamic.ReadResult(id_, {**props, **_discover(props)})


class OidcDiscovery(dynamic.Resource):
    """An IdP's endpoints as Keycloak reads them from its discovery document."""

    authorization_url: pulumi.Output[str]
    token_url: pulumi.Output[str]
    user_info_url: pulumi.Output[str]
    jwks_url: pulumi.Output[str]
    issuer: pulumi.Output[str]
    logout_url: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        admin: KeycloakAdmin,
        realm: pulumi.Input[str],
        discovery_url: str,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        outputs = dict.fromkeys(ENDPOINTS.values())
        super().__init__(
            OidcDiscoveryProvider(),
            name,
            {**admin, "realm": realm, "discovery_url": discovery_url, **outputs},
            secret_outputs(opts, "password"),
        )


class IdentityBrokeringArgs(TypedDict):
    realm: pulumi.Input[str]
    admin: KeycloakAdmin
    providers: Sequence[IdentityProviderSpec]
    # The Keycloak group of each team (the mappers' targets).
    team_paths: Mapping[str, str]
    # The flow after each brokered sign-in (SecondFactor's: a code for those who need one).
    post_broker_flow: pulumi.Input[str] | None


class IdentityBrokering(StackComponent):
    """One brokered IdP per entry, with a claim-to-group mapper per mapped team."""

    def __init__(self, name: str, args: IdentityBrokeringArgs, opts: Options = None) -> None:
        super().__init__(name, opts)
        for spec in args["providers"]:
            label = f"{name}-{spec.alias}"
            endpoints = OidcDiscovery(
                f"{label}-discovery", args["admin"], args["realm"], spec.discovery_url, self.child
            )
            idp = keycloak.oidc.IdentityProvider(
                label,
                realm=args["realm"],
                alias=spec.alias,
                display_name=spec.display_name or spec.alias,
                provider_id="oidc",
                authorization_url=endpoints.authorization_url,
                token_url=endpoints.token_url,
                user_info_url=endpoints.user_info_url,
                jwks_url=endpoints.jwks_url,
                issuer=endpoints.issuer,
                logout_url=endpoints.logout_url,
                validate_signature=True,
                client_id=spec.client_id,
                client_secret=pulumi.Output.secret(spec.client_secret),
                default_scopes="openid email profile",
                # Names, email and team memberships follow the IdP at every sign-in.
                sync_mode="FORCE",
                trust_email=True,
                extra_config={"clientAuthMethod": "client_secret_post"},
                post_broker_login_flow_alias=args["post_broker_flow"],
                opts=self.child.merge(pulumi.ResourceOptions(depends_on=[endpoints])),
            )
            for value, team in sorted(spec.teams.items()):
                keycloak.CustomIdentityProviderMapping(
                    f"{label}-{value}-to-{team}",
                    realm=args["realm"],
                    identity_provider_alias=idp.alias,
                    identity_provider_mapper="oidc-advanced-group-idp-mapper",
                    name=f"{value} to {team}",
                    extra_config={
                        "syncMode": "FORCE",
                        "claims": json.dumps([{"key": spec.team_claim, "value": value}]),
                        "are.claim.values.regex": "false",
                        "group": args["team_paths"][team],
                    },
                    opts=self.child,
                )
        self.register_outputs({"identityProviders": [spec.alias for spec in args["providers"]]})

"""Rules on the OIDC client MLflow signs in with and on its groups claim."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from .props import is_unknown, string_list
from .resource_types import GROUP_MAPPER, OIDC_CLIENT
from .rule import Resource, config_key, names_option, rule


@rule("keycloak-flat-groups-claim", GROUP_MAPPER)
def flat_groups_claim(resource: Resource, config: Mapping[str, Any]) -> Iterator[str]:
    """Group membership mappers emit plain group names (fullPath false) into the ID token, as
    mlflow-
    oidc-auth expects.
    """
    props = resource.props
    claim = props.get("claimName")
    claim = f"'{claim}'" if isinstance(claim, str) else "of this mapper"
    full_path = props.get("fullPath")
    # The keycloak provider defaults full_path to true: leaving it out is a violation.
    if not is_unknown(full_path) and full_path is not False:
        yield (
            f"The groups claim {claim} carries full paths ('/mlflow'), which never equal "
            "OIDC_GROUP_NAME, so mlflow-oidc-auth refuses every login. Fix: set full_path=False "
            "on the keycloak.openid.GroupMembershipProtocolMapper."
        )
    if props.get("addToIdToken") is False:
        yield (
            f"The groups claim {claim} is left out of the ID token, where mlflow-oidc-auth reads "
            "it. Fix: set add_to_id_token=True on the "
            "keycloak.openid.GroupMembershipProtocolMapper."
        )


_REDIRECT_FIX = (
    "Fix: list exact URIs, e.g. MLflow's callback http://<publicHostname>:<mlflowPort>/callback "
    f"(stack config {config_key('publicHostname')} and {config_key('mlflowPort')})."
)


def _client_label(resource: Resource) -> str:
    client_id = resource.props.get("clientId")
    return f"'{client_id}'" if isinstance(client_id, str) else (resource.name or "this client")


EXEMPT_CLIENTS = names_option(
    "exemptClientIds", "Client ids this rule skips (e.g. a deliberate public client)."
)


@rule("keycloak-confidential-client-exact-redirects", OIDC_CLIENT, config=EXEMPT_CLIENTS)
def confidential_client(resource: Resource, config: Mapping[str, Any]) -> Iterator[str]:
    """OIDC clients are CONFIDENTIAL and list exact redirect and post-logout redirect URIs (no '*'),
    unless their clientId is in exemptClientIds.
    """
    props = resource.props
    client_id = props.get("clientId")
    if isinstance(client_id, str) and client_id in set(config.get("exemptClientIds") or []):
        return
    label = _client_label(resource)
    access_type = props.get("accessType")
    if not is_unknown(access_type) and str(access_type or "").upper() != "CONFIDENTIAL":
        yield (
            f"Client {label} has access type {access_type!r}, not CONFIDENTIAL: it signs users "
            "in without proving it holds a client secret. Fix: set access_type='CONFIDENTIAL' on "
            "the keycloak.openid.Client; the stack hands the generated secret to MLflow as "
            "OIDC_CLIENT_SECRET."
        )
    for prop in ("validRedirectUris", "validPostLogoutRedirectUris"):
        uris = props.get(prop)
        if is_unknown(uris):
            continue
        for uri in string_list(uris):
            if isinstance(uri, str) and "*" in uri:
                yield (
                    f"Client {label} accepts the wildcard {prop} entry '{uri}', so codes and "
                    f"logouts can be sent to any matching URL. {_REDIRECT_FIX}"
                )


GRANT_CLIENTS = names_option("allowedClientIds", "Client ids that may accept the password grant.")


@rule("keycloak-no-direct-grants", OIDC_CLIENT, config=GRANT_CLIENTS)
def no_direct_grants(resource: Resource, config: Mapping[str, Any]) -> Iterator[str]:
    """OIDC clients do not accept the password grant (directAccessGrantsEnabled), unless their
    clientId is in allowedClientIds.
    """
    client_id = resource.props.get("clientId")
    if isinstance(client_id, str) and client_id in set(config.get("allowedClientIds") or []):
        return
    enabled = resource.props.get("directAccessGrantsEnabled")
    if is_unknown(enabled) or enabled is not True:
        return
    label = _client_label(resource)
    yield (
        f"Client {label} accepts the password grant (directAccessGrantsEnabled): any program "
        "holding a password gets tokens without the login page, so brute-force lockout, "
        "required actions and a second factor are bypassed. Fix: `pulumi config set "
        f"{config_key('directAccessGrants')} false` (the default); if a test stack needs it, "
        "list the client in this policy's `allowedClientIds`."
    )

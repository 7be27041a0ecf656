"""People from elsewhere: corporate OpenID Connect IdPs (brokering) and LDAP directories."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from stackconfig.base import ConfigModel
from stackconfig.types import Name, matching

DiscoveryUrl = Annotated[
    str,
    matching(
        r"^https?://[^/\s]+/.*\.well-known/openid-configuration$",
        "is not an OpenID discovery URL (https://idp.example.com/.../.well-known/"
        "openid-configuration)",
    ),
]
LdapUrl = Annotated[
    str, matching(r"^ldaps?://[^/\s]+$", "is not an LDAP URL like 'ldaps://ldap.corp.example:636'")
]


class IdentityProviderSpec(ConfigModel):
    """A corporate OpenID Connect IdP whose people sign in to MLflow through Keycloak
    (identity brokering), with a button of its own on the login page."""

    alias: Name
    """Keycloak's name of the IdP (in its redirect URI: <keycloak>/realms/<realm>/broker/
    <alias>/endpoint, which the IdP's client must accept)."""
    display_name: str | None = None
    """The login page's button text (default: the alias)."""
    discovery_url: DiscoveryUrl
    """The IdP's OpenID discovery document, as Keycloak's container reaches it."""
    client_id: str
    client_secret: str
    """Set it as a secret: pulumi config set --secret --path 'identityProviders[0].clientSecret'."""
    team_claim: str = "groups"
    """The IdP's claim that lists a person's groups."""
    teams: dict[str, str] = Field(default_factory=dict)
    """Which claim value makes a person a member of which team: {corp-group: team}."""


class LdapSpec(ConfigModel):
    """An LDAP / Active Directory user federation: its people sign in to MLflow with their
    directory password, and directory groups named like a team make them its members."""

    name: Name = "ldap"
    """Keycloak's name of the federation (one per directory)."""
    connection_url: LdapUrl
    """ldaps://host:636 (or ldap://host:389 with startTls) as Keycloak's container reaches it."""
    start_tls: bool = False
    bind_dn: str
    """The DN Keycloak binds as to search the directory."""
    bind_password: str
    """Set it as a secret: pulumi config set --secret --path 'ldap[0].bindPassword'."""
    users_dn: str
    """Where the people are (ou=people,dc=corp,dc=example)."""
    username_attribute: str = "uid"
    """sAMAccountName for Active Directory."""
    uuid_attribute: str = "entryUUID"
    """objectGUID for Active Directory."""
    user_object_classes: tuple[str, ...] = ("inetOrgPerson",)
    vendor: Literal["other", "ad", "rhds", "tivoli", "edirectory"] = "other"
    groups_dn: str | None = None
    """Where the groups are (ou=groups,...); groups whose cn is a team name make their members
    that team's members. Unset: no groups are read."""
    group_object_class: str = "groupOfNames"
    edit_mode: Literal["READ_ONLY", "WRITABLE", "UNSYNCED"] = "READ_ONLY"
    """READ_ONLY: Keycloak never writes to the directory (passwords change there)."""

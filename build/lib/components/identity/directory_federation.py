"""LDAP / Active Directory user federation of the realm: people sign in with their directory
password; directory groups named like a team make them its members.

Keycloak checks the password against the directory at every sign-in and imports a copy of the
person; someone deleted from the directory is refused at their next sign-in (Keycloak finds no
entry and drops its copy). Only groups whose cn is a team name are read (an LDAP filter), and
Keycloak finds each under the team's own group (same name, at the top level), so the stack's
teams and their permissions apply to directory people unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypedDict

import pulumi
import pulumi_keycloak as keycloak

from components.stack_component import Options, StackComponent
from stackconfig import LdapSpec


class DirectoryFederationArgs(TypedDict):
    realm_id: pulumi.Input[str]
    directories: Sequence[LdapSpec]
    teams: Sequence[str]


def _groups_filter(teams: Sequence[str]) -> str:
    """An LDAP filter matching the groups named like a team, and no other."""
    escaped = [
        team.replace("\\", "\\5c").replace("*", "\\2a").replace("(", "\\28").replace(")", "\\29")
        for team in teams
    ]
    return "(|" + "".join(f"(cn={team})" for team in escaped) + ")"


class DirectoryFederation(StackComponent):
    """One user federation per directory, with a group mapper onto the teams."""

    def __init__(self, name: str, args: DirectoryFederationArgs, opts: Options = None) -> None:
        super().__init__(name, opts)
        for spec in args["directories"]:
            label = f"{name}-{spec.name}"
            federation = keycloak.ldap.UserFederation(
                label,
                realm_id=args["realm_id"],
                name=spec.name,
                vendor=spec.vendor.upper(),
                connection_url=spec.connection_url,
                start_tls=spec.start_tls,
                bind_dn=spec.bind_dn,
                bind_credential=pulumi.Output.secret(spec.bind_password),
                users_dn=spec.users_dn,
                username_ldap_attribute=spec.username_attribute,
                rdn_ldap_attribute=spec.username_attribute,
                uuid_ldap_attribute=spec.uuid_attribute,
                user_object_classes=list(spec.user_object_classes),
                edit_mode=spec.edit_mode,
                import_enabled=True,
                # Keycloak's user cache would answer a lookup of someone deleted from the
                # directory from its copy (e2e test_21 saw it): uncached, each lookup checks
                # the directory, which is how `stackctl users reconcile` sees who left.
                cache=keycloak.ldap.UserFederationCacheArgs(policy="NO_CACHE"),
                sync_registrations=False,
                trust_email=True,
                opts=self.child,
            )
            if spec.groups_dn and args["teams"]:
                keycloak.ldap.GroupMapper(
                    f"{label}-teams",
                    realm_id=args["realm_id"],
                    ldap_user_federation_id=federation.id,
                    name="teams",
                    ldap_groups_dn=spec.groups_dn,
                    group_name_ldap_attribute="cn",
                    group_object_classes=[spec.group_object_class],
                    groups_ldap_filter=_groups_filter(args["teams"]),
                    membership_ldap_attribute="member",
                    membership_attribute_type="DN",
                    membership_user_ldap_attribute=spec.username_attribute,
                    mode="READ_ONLY",
                    preserve_group_inheritance=False,
                    drop_non_existing_groups_during_sync=False,
                    opts=self.child,
                )
        self.register_outputs({"directories": [spec.name for spec in args["directories"]]})

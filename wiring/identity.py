"""The realm side of the stack, the same on every target: realm, clients, groups, teams, people,
federations, second factor, and the MLflow accounts and permissions kept through the plugin."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_keycloak as keycloak

from components.access_groups import AccessGroups
from components.config import StackConfig
from components.directory_federation import DirectoryFederation
from components.identity_brokering import IdentityBrokering
from components.mlflow_accounts import AdminApi, MlflowAccounts, plugin_username
from components.mlflow_permissions import MlflowPermissions
from components.oidc_client import OidcClient, OidcClientArgs
from components.operator_client import OperatorClient
from components.realm_users import RealmUsers
from components.second_factor import SecondFactor
from components.sso_realm import SsoRealm


@dataclass(frozen=True)
class KeycloakAccess:
    """How the stack administers Keycloak: its provider and the master realm's admin."""

    provider: keycloak.Provider
    admin_url: str
    admin_username: str
    admin_password: pulumi.Output[str]
    # What must exist before the admin API answers (the server).
    server: pulumi.Resource


@dataclass(frozen=True)
class Identity:
    realm: SsoRealm
    client: OidcClient
    groups: AccessGroups
    teams: AccessGroups
    users: RealmUsers
    automation: OidcClient | None
    operator: OperatorClient
    stack_admin: OidcClient


def declare_identity(
    cfg: StackConfig, access: KeycloakAccess, client_secret: pulumi.Input[str] | None = None
) -> Identity:
    """The realm and everything in it, through `access`. `client_secret`: MLflow's OIDC client
    secret when the stack generated it (unset: Keycloak generates it)."""
    on_realm = pulumi.ResourceOptions(providers={"keycloak": access.provider})
    realm = SsoRealm("realm", {"settings": cfg.realm_settings}, on_realm)
    client_args: OidcClientArgs = {
        "realm_id": realm.realm_id,
        "client_id": cfg.client_id,
        "display_name": "MLflow",
        "browser_sign_in": {
            "mlflow_url": cfg.urls.mlflow,
            "direct_access_grants": cfg.direct_access_grants,
        },
    }
    if client_secret is not None:
        client_args["client_secret"] = client_secret
    client = OidcClient("mlflow-client", client_args, on_realm)
    second_factor = (
        SecondFactor("second-factor", {"realm_id": realm.realm_id}, on_realm)
        if cfg.require_otp_for
        else None
    )
    otp_roles = (
        {group: [second_factor.role_id] for group in cfg.require_otp_for} if second_factor else {}
    )
    groups = AccessGroups(
        "groups",
        {"realm_id": realm.realm_id, "names": list(cfg.groups), "extra_roles": otp_roles},
        on_realm,
    )
    teams = AccessGroups(
        "teams",
        {
            "realm_id": realm.realm_id,
            "names": list(cfg.team_names),
            "descriptions": {team.name: team.description for team in cfg.teams},
            "extra_roles": otp_roles,
        },
        on_realm,
    )
    users = RealmUsers(
        "users",
        {
            "realm_id": realm.realm_id,
            "users": cfg.users,
            "group_ids": {**groups.group_ids, **teams.group_ids},
        },
        on_realm,
    )
    if cfg.ldap:
        DirectoryFederation(
            "directories",
            {"realm_id": realm.realm_id, "directories": cfg.ldap, "teams": cfg.team_names},
            on_realm.merge(pulumi.ResourceOptions(depends_on=[teams])),
        )
    if cfg.identity_providers:
        IdentityBrokering(
            "brokering",
            {
                "realm": realm.realm_id,
                "admin": {
                    "url": access.admin_url,
                    "username": access.admin_username,
                    "password": access.admin_password,
                },
                "providers": cfg.identity_providers,
                "team_paths": {team: f"/{team}" for team in cfg.team_names},
            },
            on_realm.merge(pulumi.ResourceOptions(depends_on=[access.server, teams])),
        )
    automation = (
        OidcClient(
            "automation-client",
            {
                "realm_id": realm.realm_id,
                "client_id": cfg.automation_client_id,
                "display_name": "MLflow automation",
                "audience": client.client_id,
                "service_account_group_ids": [groups.group_ids[cfg.user_group]],
            },
            on_realm,
        )
        if cfg.automation_client_id
        else None
    )
    # stackctl's own account: the realm alone, only the roles its commands need.
    operator = OperatorClient(
        "stackctl-client",
        {
            "realm_id": realm.realm_id,
            "client_id": f"{cfg.client_id}-stackctl",
            "provider": access.provider,
        },
        on_realm,
    )
    # The stack's own MLflow administrator: deactivates offboarded people's MLflow accounts.
    stack_admin = OidcClient(
        "stack-admin-client",
        {
            "realm_id": realm.realm_id,
            "client_id": f"{cfg.client_id}-stack-admin",
            "display_name": "MLflow stack administration",
            "audience": client.client_id,
            "service_account_group_ids": [groups.group_ids[cfg.admin_group]],
        },
        on_realm,
    )
    return Identity(realm, client, groups, teams, users, automation, operator, stack_admin)


def declare_mlflow_access(
    cfg: StackConfig, identity: Identity, mlflow_ready: list[pulumi.Resource]
) -> None:
    """Each person's MLflow account and the declared permissions, through the plugin's admin
    API as the stack's own administrator, once MLflow answers (`mlflow_ready`)."""
    admin_api = AdminApi(
        mlflow_url=cfg.urls.mlflow_from_host,
        token_url=cfg.urls.token_from_host,
        client_id=identity.stack_admin.client_id,
        client_secret=identity.stack_admin.client_secret,
    )
    after_mlflow = pulumi.ResourceOptions(depends_on=[*mlflow_ready, identity.stack_admin])
    MlflowAccounts(
        "mlflow-accounts",
        {
            "api": admin_api,
            "users": cfg.users,
            "admitted": {spec.username: cfg.may_sign_in(spec) for spec in cfg.users},
        },
        after_mlflow,
    )
    MlflowPermissions(
        "mlflow-permissions",
        {
            "api": admin_api,
            "permissions": cfg.permissions,
            "accounts": {spec.username: plugin_username(spec) for spec in cfg.users},
        },
        after_mlflow,
    )


def export_identity(cfg: StackConfig, identity: Identity, access: KeycloakAccess) -> None:
    """The outputs every target has: where to sign in and the clients' credentials."""
    pulumi.export("mlflowUrl", cfg.urls.mlflow)
    pulumi.export("keycloakUrl", cfg.urls.keycloak)
    pulumi.export("keycloakAdminConsoleUrl", cfg.urls.admin_console)
    pulumi.export("issuer", cfg.urls.issuer)
    pulumi.export("realm", cfg.realm)
    pulumi.export("clientId", identity.client.client_id)
    pulumi.export("clientSecret", identity.client.client_secret)
    pulumi.export("keycloakAdminUsername", access.admin_username)
    pulumi.export("keycloakAdminPassword", access.admin_password)
    pulumi.export("userInitialPasswords", identity.users.initial_passwords)
    if identity.automation:
        pulumi.export("automationClientId", identity.automation.client_id)
        pulumi.export("automationClientSecret", identity.automation.client_secret)
    pulumi.export("stackAdminClientId", identity.stack_admin.client_id)
    pulumi.export("stackAdminClientSecret", identity.stack_admin.client_secret)
    pulumi.export("keycloakAdminUrl", cfg.urls.keycloak_from_host)
    pulumi.export("mlflowAdminUrl", cfg.urls.mlflow_from_host)
    pulumi.export("stackctlClientId", identity.operator.client.client_id)
    pulumi.export("stackctlClientSecret", identity.operator.client_secret)

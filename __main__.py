"""MLflow behind Keycloak single sign-on, as one Pulumi stack: wiring only."""

import pulumi
import pulumi_docker as docker

from components.access_groups import AccessGroups
from components.app_database import AppDatabase
from components.config import load_config
from components.directory_federation import DirectoryFederation
from components.edge_proxy import EdgeProxy, Sites
from components.identity_brokering import IdentityBrokering
from components.keycloak_server import HTTP_PORT as KEYCLOAK_HTTP_PORT
from components.keycloak_server import KeycloakServer
from components.mlflow_accounts import AdminApi, MlflowAccounts, plugin_username
from components.mlflow_permissions import MlflowPermissions
from components.mlflow_server import ARTIFACTS_DIR, MlflowServer
from components.mlflow_server import HTTP_PORT as MLFLOW_HTTP_PORT
from components.oidc_client import OidcClient
from components.operator_client import OperatorClient
from components.postgres_server import PostgresServer
from components.realm_users import RealmUsers
from components.second_factor import SecondFactor
from components.service_container import Placement
from components.sso_realm import SsoRealm
from stackrules.names import resource_prefix

cfg = load_config()
prefix = resource_prefix(pulumi.get_stack())


# Keycloak and MLflow meet on the service network; each database server shares a network with
# its one client only, so MLflow cannot reach Keycloak's database, nor Keycloak MLflow's.
network = docker.Network("network", name=f"{prefix}-net", driver="bridge")
mlflow_db_network = docker.Network("mlflow-db-network", name=f"{prefix}-mlflow-db-net")
keycloak_db_network = docker.Network("keycloak-db-network", name=f"{prefix}-keycloak-db-net")
# With TLS, the edge proxy shares a network with each service alone: that network is the only
# address range whose X-Forwarded-* headers Keycloak and MLflow trust.
tls = cfg.tls != "off"
keycloak_edge = (
    docker.Network("keycloak-edge-network", name=f"{prefix}-keycloak-edge-net") if tls else None
)
mlflow_edge = (
    docker.Network("mlflow-edge-network", name=f"{prefix}-mlflow-edge-net") if tls else None
)


def edge(network: docker.Network | None) -> list[docker.Network]:
    return [network] if network else []


def subnet(network: docker.Network | None) -> pulumi.Output[str] | None:
    """The address range Docker gave `network` (the proxy's side of it)."""
    if network is None:
        return None
    found: pulumi.Output[str] = network.ipam_configs.apply(lambda configs: str(configs[0].subnet))
    return found


def placed(
    alias: str,
    host_port: int | None,
    networks: list[docker.Network],
    bind_address: str | None = None,
) -> Placement:
    """A service on `networks`, known by its alias, published on the bind address."""
    return Placement(
        container_name=f"{prefix}-{alias}",
        network_names=[joined.name for joined in networks],
        alias=alias,
        bind_address=bind_address or cfg.bind_address,
        host_port=host_port,
    )


def postgres(name: str, alias: str, port: int, network: docker.Network) -> PostgresServer:
    return PostgresServer(
        name,
        {
            "placement": placed(alias, port, [network], cfg.database_bind_address),
            "image": cfg.postgres_image,
            "protect_data": cfg.protect_data,
            "host_address": cfg.database_bind_address,
        },
    )


def database(name: str, server: PostgresServer, db_name: str) -> AppDatabase:
    """An application's own database and login role (both named db_name) on server."""
    return AppDatabase(
        name, {"server": server, "database": db_name, "role": db_name, "protect": cfg.protect_data}
    )


mlflow_pg = postgres("mlflow-postgres", "mlflow-db", cfg.mlflow_db_port, mlflow_db_network)
keycloak_pg = postgres(
    "keycloak-postgres", "keycloak-db", cfg.keycloak_db_port, keycloak_db_network
)
tracking_db = database("mlflow-tracking", mlflow_pg, "mlflow")
auth_db = database("mlflow-auth", mlflow_pg, "mlflow_auth")
keycloak_db = database("keycloak-store", keycloak_pg, "keycloak")

proxy = (
    EdgeProxy(
        "proxy",
        {
            "sites": Sites(
                mode=cfg.tls,
                mlflow_host=cfg.mlflow_hostname,
                keycloak_host=cfg.keycloak_hostname,
                https_port=cfg.https_port,
                realm=cfg.realm,
                mlflow_upstream=f"mlflow:{MLFLOW_HTTP_PORT}",
                keycloak_upstream=f"keycloak:{KEYCLOAK_HTTP_PORT}",
                acme_email=cfg.acme_email,
            ),
            "image": cfg.proxy_image,
            "container_name": f"{prefix}-proxy",
            "networks": [*edge(keycloak_edge), *edge(mlflow_edge)],
            "bind_address": cfg.bind_address,
            "https_port": cfg.https_port,
            "http_port": cfg.http_port,
            "keycloak_port": cfg.keycloak_port,
            "mlflow_port": cfg.mlflow_port,
            "certificate": cfg.tls_certificate,
            "key": cfg.tls_key,
            "protect_data": cfg.protect_data,
        },
    )
    if tls
    else None
)

keycloak_server = KeycloakServer(
    "keycloak",
    {
        "placement": placed(
            "keycloak",
            None if tls else cfg.keycloak_port,
            [network, keycloak_db_network, *edge(keycloak_edge)],
        ),
        "proxy": {
            "trusted_addresses": subnet(keycloak_edge),
            "admin_url": cfg.urls.keycloak_from_host,
            "container": proxy.container,
        }
        if proxy
        else None,
        "image": cfg.keycloak_image,
        "public_url": cfg.urls.keycloak,
        "database": keycloak_db,
        "admin_username": cfg.keycloak_admin_username,
        "host_url": cfg.urls.keycloak_from_host,
        "allow_concurrent_logins": cfg.brute_force_allow_concurrent_logins,
    },
)
on_realm = pulumi.ResourceOptions(providers={"keycloak": keycloak_server.provider})

realm = SsoRealm("realm", {"settings": cfg.realm_settings}, on_realm)
client = OidcClient(
    "mlflow-client",
    {
        "realm_id": realm.realm_id,
        "client_id": cfg.client_id,
        "display_name": "MLflow",
        "browser_sign_in": {
            "mlflow_url": cfg.urls.mlflow,
            "direct_access_grants": cfg.direct_access_grants,
        },
    },
    on_realm,
)
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
                "url": cfg.urls.keycloak_from_host,
                "username": cfg.keycloak_admin_username,
                "password": keycloak_server.admin_password,
            },
            "providers": cfg.identity_providers,
            "team_paths": {team: f"/{team}" for team in cfg.team_names},
        },
        on_realm.merge(pulumi.ResourceOptions(depends_on=[keycloak_server, teams])),
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
        "provider": keycloak_server.provider,
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

mlflow = MlflowServer(
    "mlflow",
    {
        "placement": placed(
            "mlflow",
            None if tls else cfg.mlflow_port,
            [network, mlflow_db_network, *edge(mlflow_edge)],
        ),
        "proxy": {"trusted_addresses": subnet(mlflow_edge), "public_url": cfg.urls.mlflow}
        if proxy
        else None,
        "image_name": "mlflow-keycloak-stack/mlflow",
        "prebuilt_image": cfg.mlflow_image,
        "workers": cfg.mlflow_workers,
        "build_args": cfg.mlflow_build_args,
        "backend_store_uri": tracking_db.uri(),
        "users_db_uri": auth_db.uri(),
        "oidc": {
            "discovery_url": keycloak_server.discovery_url(cfg.realm),
            "client_id": client.client_id,
            "client_secret": client.client_secret,
            "redirect_uri": client.redirect_uri,
            "issuer": cfg.urls.issuer,
            "audience": client.client_id,
            "sign_in_groups": cfg.sign_in_groups,
            "admin_group": cfg.admin_group,
            "default_permission": cfg.default_mlflow_permission,
            "provision_on_bearer_auth": cfg.provision_on_bearer_auth,
        },
        "protect_data": cfg.protect_data,
    },
    pulumi.ResourceOptions(depends_on=[realm, groups, teams]),
)

# The stack's admin calls to mlflow-oidc-auth: offboarding and permissions as code.
admin_api = AdminApi(
    mlflow_url=cfg.urls.mlflow_from_host,
    token_url=cfg.urls.token_from_host,
    client_id=stack_admin.client_id,
    client_secret=stack_admin.client_secret,
)
after_mlflow = pulumi.ResourceOptions(depends_on=[mlflow, stack_admin, *([proxy] if proxy else [])])
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

pulumi.export("mlflowUrl", cfg.urls.mlflow)
pulumi.export("keycloakUrl", cfg.urls.keycloak)
pulumi.export("keycloakAdminConsoleUrl", cfg.urls.admin_console)
pulumi.export("issuer", cfg.urls.issuer)
pulumi.export("realm", cfg.realm)
pulumi.export("clientId", client.client_id)
pulumi.export("clientSecret", client.client_secret)
pulumi.export("keycloakAdminUsername", cfg.keycloak_admin_username)
pulumi.export("keycloakAdminPassword", keycloak_server.admin_password)
pulumi.export("userInitialPasswords", users.initial_passwords)
if automation:
    pulumi.export("automationClientId", automation.client_id)
    pulumi.export("automationClientSecret", automation.client_secret)
pulumi.export("mlflowDbPort", cfg.mlflow_db_port)
pulumi.export("keycloakDbPort", cfg.keycloak_db_port)
pulumi.export("stackAdminClientId", stack_admin.client_id)
pulumi.export("stackAdminClientSecret", stack_admin.client_secret)
pulumi.export("keycloakAdminUrl", cfg.urls.keycloak_from_host)
pulumi.export("mlflowAdminUrl", cfg.urls.mlflow_from_host)
if proxy and proxy.root_ca_certificate:
    pulumi.export("rootCaCertificate", proxy.root_ca_certificate)
pulumi.export("stackctlClientId", operator.client.client_id)
pulumi.export("stackctlClientSecret", operator.client_secret)
# What `stackctl backup` copies and `stackctl restore` puts back (no secret in it).
pulumi.export(
    "dataStores",
    {
        "databases": [
            tracking_db.store("tracking"),
            auth_db.store("permissions"),
            keycloak_db.store("identities"),
        ],
        "artifacts": {"container": mlflow.container.name, "path": ARTIFACTS_DIR},
        "services": [keycloak_server.container.name, mlflow.container.name],
    },
)

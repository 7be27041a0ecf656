"""MLflow behind Keycloak single sign-on, as one Pulumi stack: wiring only."""

import pulumi
import pulumi_docker as docker
import pulumi_keycloak as keycloak
import pulumi_postgresql as postgresql

from components.access_groups import AccessGroups
from components.app_database import AppDatabase
from components.automation_client import AutomationClient
from components.config import load_config
from components.keycloak_server import KeycloakServer
from components.mlflow_server import MlflowServer
from components.oidc_client import MlflowOidcClient
from components.postgres_server import PostgresServer
from components.realm_users import RealmUsers
from components.service_container import Placement
from components.sso_realm import SsoRealm

cfg = load_config()
prefix = f"mlflow-{pulumi.get_stack()}"


network = docker.Network("network", name=f"{prefix}-net", driver="bridge")


def placed(alias: str, host_port: int) -> Placement:
    """A service on the stack's network, known by its alias, published on the bind address."""
    return Placement(
        container_name=f"{prefix}-{alias}",
        network_name=network.name,
        alias=alias,
        bind_address=cfg.bind_address,
        host_port=host_port,
    )


def postgres(name: str, alias: str, port: int) -> tuple[PostgresServer, postgresql.Provider]:
    """A Postgres container and the provider that manages what lives inside it."""
    server = PostgresServer(
        name,
        {
            "placement": placed(alias, port),
            "image": cfg.postgres_image,
            "protect_data": cfg.protect_data,
        },
    )
    provider = postgresql.Provider(
        f"{name}-provider",
        host=cfg.local_address,
        port=port,
        username=server.superuser,
        password=server.superuser_password,
        database="postgres",
        sslmode="disable",
        superuser=True,
        opts=pulumi.ResourceOptions(depends_on=[server.container]),
    )
    return server, provider


mlflow_pg, mlflow_pg_provider = postgres("mlflow-postgres", "mlflow-db", cfg.mlflow_db_port)
keycloak_pg, keycloak_pg_provider = postgres(
    "keycloak-postgres", "keycloak-db", cfg.keycloak_db_port
)
on_mlflow_pg = pulumi.ResourceOptions(providers={"postgresql": mlflow_pg_provider})
tracking_db = AppDatabase(
    "mlflow-tracking",
    {"database": "mlflow", "role": "mlflow", "protect": cfg.protect_data},
    on_mlflow_pg,
)
auth_db = AppDatabase(
    "mlflow-auth",
    {"database": "mlflow_auth", "role": "mlflow_auth", "protect": cfg.protect_data},
    on_mlflow_pg,
)
keycloak_db = AppDatabase(
    "keycloak-store",
    {"database": "keycloak", "role": "keycloak", "protect": cfg.protect_data},
    pulumi.ResourceOptions(providers={"postgresql": keycloak_pg_provider}),
)

keycloak_server = KeycloakServer(
    "keycloak",
    {
        "placement": placed("keycloak", cfg.keycloak_port),
        "image": cfg.keycloak_image,
        "public_url": cfg.keycloak_url,
        "db_host": keycloak_pg.alias,
        "db_name": keycloak_db.database.name,
        "db_username": keycloak_db.role.name,
        "db_password": keycloak_db.password,
        "admin_username": cfg.keycloak_admin_username,
    },
)
keycloak_provider = keycloak.Provider(
    "keycloak-provider",
    url=cfg.local_keycloak_url,
    realm="master",
    client_id="admin-cli",
    username=cfg.keycloak_admin_username,
    password=keycloak_server.admin_password,
    initial_login=False,
    opts=pulumi.ResourceOptions(depends_on=[keycloak_server.container]),
)
on_realm = pulumi.ResourceOptions(providers={"keycloak": keycloak_provider})

realm = SsoRealm("realm", {"settings": cfg.realm_settings}, on_realm)
client = MlflowOidcClient(
    "mlflow-client",
    {
        "realm_id": realm.realm_id,
        "client_id": cfg.client_id,
        "mlflow_url": cfg.mlflow_url,
        "direct_access_grants": cfg.direct_access_grants,
    },
    on_realm,
)
groups = AccessGroups("groups", {"realm_id": realm.realm_id, "names": list(cfg.groups)}, on_realm)
users = RealmUsers(
    "users",
    {"realm_id": realm.realm_id, "users": cfg.users, "group_ids": groups.group_ids},
    on_realm,
)
automation = (
    AutomationClient(
        "automation-client",
        {
            "realm_id": realm.realm_id,
            "client_id": cfg.automation_client_id,
            "audience": client.client_id,
            "group_ids": [groups.group_ids[cfg.user_group]],
        },
        on_realm,
    )
    if cfg.automation_client_id
    else None
)

mlflow = MlflowServer(
    "mlflow",
    {
        "placement": placed("mlflow", cfg.mlflow_port),
        "image_name": "mlflow-keycloak-stack/mlflow",
        "prebuilt_image": cfg.mlflow_image,
        "build_args": cfg.mlflow_build_args,
        "backend_store_uri": tracking_db.uri(mlflow_pg.alias),
        "users_db_uri": auth_db.uri(mlflow_pg.alias),
        "oidc": {
            "discovery_url": keycloak_server.discovery_url(cfg.realm),
            "client_id": client.client_id,
            "client_secret": client.client_secret,
            "redirect_uri": client.redirect_uri,
            "issuer": cfg.issuer,
            "audience": client.client_id,
            "user_group": cfg.user_group,
            "admin_group": cfg.admin_group,
            "default_permission": cfg.default_mlflow_permission,
            "provision_on_bearer_auth": cfg.provision_on_bearer_auth,
        },
        "protect_data": cfg.protect_data,
    },
    pulumi.ResourceOptions(depends_on=[realm, groups]),
)

pulumi.export("mlflowUrl", cfg.mlflow_url)
pulumi.export("keycloakUrl", cfg.keycloak_url)
pulumi.export("keycloakAdminConsoleUrl", cfg.admin_console_url)
pulumi.export("issuer", cfg.issuer)
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

"""The resource graph users depend on, checked on the real program under Pulumi's mock engine."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

import pulumi
import pytest
import yaml

from components.docker.keycloak_server import BUILD_CONTEXT, BUILD_OPTIONS, IMAGE_REPOSITORY
from stackrules.versions import pinned_versions
from tests.support.harness import DeclaredStack, resolve, run_program, unit_config
from tests.support.workdir import REPO

CONTAINER = "docker:index/container:Container"
BUILT_IMAGE = "docker:index/image:Image"
REMOTE_IMAGE = "docker:index/remoteImage:RemoteImage"
SECRET_SIG = "4dabf18193072939515e22adb298388d"
# Keycloak 26's variable of spi-brute-force-protector--default-brute-force-detector--allow-...
CONCURRENT_LOGINS_OPTION = (
    "KC_SPI_BRUTE_FORCE_PROTECTOR__DEFAULT_BRUTE_FORCE_DETECTOR__ALLOW_CONCURRENT_REQUESTS"
)


def is_secret(value: Any) -> bool:
    """The engine received this input as a secret."""
    return isinstance(value, dict) and SECRET_SIG in value


def plain(value: Any) -> Any:
    return value["value"] if is_secret(value) else value


def envs_of(deployment: DeclaredStack, name: str) -> dict[str, str]:
    lines = plain(deployment.one(CONTAINER, name).inputs["envs"])
    return dict(line.split("=", 1) for line in lines)


@pytest.fixture(scope="module")
def stack() -> DeclaredStack:
    return run_program()


def test_each_database_shares_a_network_with_its_one_client_only(stack: DeclaredStack) -> None:
    names = sorted(c.name for c in stack.of_type(CONTAINER))
    assert names == ["keycloak", "keycloak-postgres", "mlflow", "mlflow-postgres"]
    network = {n.name: n.inputs["name"] for n in stack.of_type("docker:index/network:Network")}
    attached = {
        c.name: sorted(n["name"] for n in c.inputs["networksAdvanced"])
        for c in stack.of_type(CONTAINER)
    }
    assert attached == {
        "keycloak": sorted([network["network"], network["keycloak-db-network"]]),
        "keycloak-postgres": [network["keycloak-db-network"]],
        "mlflow": sorted([network["network"], network["mlflow-db-network"]]),
        "mlflow-postgres": [network["mlflow-db-network"]],
    }


def test_every_published_port_binds_to_loopback(stack: DeclaredStack) -> None:
    published = [
        (c.name, port) for c in stack.of_type(CONTAINER) for port in c.inputs.get("ports", [])
    ]
    assert len(published) == 4
    for name, port in published:
        assert port["ip"] == "127.0.0.1", name


def test_each_database_keeps_its_data_on_a_named_volume(stack: DeclaredStack) -> None:
    for name in ("mlflow-postgres", "keycloak-postgres"):
        container = stack.one(CONTAINER, name)
        volume = stack.one("docker:index/volume:Volume", f"{name}-data").inputs["name"]
        assert container.inputs["volumes"] == [
            {"volumeName": volume, "containerPath": "/var/lib/postgresql/data"}
        ]
    artifacts = stack.one("docker:index/volume:Volume", "mlflow-artifacts").inputs["name"]
    assert {"volumeName": artifacts, "containerPath": "/var/lib/mlflow"} in stack.one(
        CONTAINER, "mlflow"
    ).inputs["volumes"]


def test_every_container_waits_for_its_health_check(stack: DeclaredStack) -> None:
    for container in stack.of_type(CONTAINER):
        assert container.inputs["wait"] is True, container.name
        assert container.inputs["healthcheck"]["tests"][0] == "CMD", container.name


def test_every_containers_log_is_rotated(stack: DeclaredStack) -> None:
    for container in stack.of_type(CONTAINER):
        assert container.inputs["logDriver"] == "json-file", container.name
        assert set(container.inputs["logOpts"]) == {"max-size", "max-file"}, container.name


def test_apps_get_least_privilege_roles_and_their_own_databases(stack: DeclaredStack) -> None:
    databases = {d.inputs["name"]: d for d in stack.of_type("postgresql:index/database:Database")}
    assert set(databases) == {"mlflow", "mlflow_auth", "keycloak"}
    roles = {r.inputs["name"]: r for r in stack.of_type("postgresql:index/role:Role")}
    for name, role in roles.items():
        assert role.inputs["login"] is True and role.inputs["superuser"] is False, name
        assert role.inputs["createDatabase"] is False and role.inputs["createRole"] is False
        assert is_secret(role.inputs["password"]), name
    assert {d.inputs["owner"] for d in databases.values()} == set(roles)
    grants = stack.of_type("postgresql:index/grant:Grant")
    assert {g.inputs["database"] for g in grants} == set(databases)
    for grant in grants:  # PUBLIC loses CONNECT: an empty privilege list revokes
        assert grant.inputs["role"] == "public"
        assert grant.inputs["objectType"] == "database"
        assert grant.inputs["privileges"] == []


def test_keycloaks_database_lives_on_keycloaks_postgres(stack: DeclaredStack) -> None:
    def provider_of(type_token: str, name: str) -> str:
        provider = stack.one(type_token, name).provider
        assert provider is not None
        return provider.split("::")[-2]

    assert provider_of("postgresql:index/database:Database", "keycloak-store-db") == (
        "keycloak-postgres-provider"
    )
    for name in ("mlflow-tracking-db", "mlflow-auth-db"):
        assert provider_of("postgresql:index/database:Database", name) == (
            "mlflow-postgres-provider"
        )


def test_keycloak_runs_in_production_mode_with_the_hostname_split(stack: DeclaredStack) -> None:
    keycloak = stack.one(CONTAINER, "keycloak")
    assert keycloak.inputs["command"] == ["start", "--optimized"]
    env = envs_of(stack, "keycloak")
    assert env["KC_HOSTNAME"] == "http://localhost:8080"
    assert env["KC_HOSTNAME_BACKCHANNEL_DYNAMIC"] == "true"
    assert env["KC_DB_URL"] == "jdbc:postgresql://keycloak-db:5432/keycloak"
    assert env["KC_DB_USERNAME"] == "keycloak"
    assert "/health/ready" in keycloak.inputs["healthcheck"]["tests"][-1]


def keycloak_image(deployment: DeclaredStack) -> dict[str, Any]:
    """The inputs of the image the stack derives from keycloakImage."""
    return deployment.one(BUILT_IMAGE, "keycloak-optimized-image").inputs


def test_keycloak_runs_optimized_on_the_configured_image_built_with_its_build_options(
    stack: DeclaredStack,
) -> None:
    """Whatever keycloakImage names, the stack runs it derived by `kc.sh build` with exactly
    BUILD_OPTIONS and starts it with --optimized: Quarkus never re-augments at a start."""
    image = keycloak_image(stack)
    build = image["build"]
    assert build["args"]["BASE_IMAGE"] == "quay.io/keycloak/keycloak:26.4.7"
    flags = [re.fullmatch(r"--([a-z-]+)=(\S+)", f) for f in build["args"]["BUILD_OPTIONS"].split()]
    assert all(flags)
    assert {flag[1]: flag[2] for flag in flags if flag} == BUILD_OPTIONS
    assert build["dockerfile"] == str(BUILD_CONTEXT / "Dockerfile")
    assert "kc.sh build ${BUILD_OPTIONS}" in (BUILD_CONTEXT / "Dockerfile").read_text()
    assert image["skipPush"] is True
    # The configured image is pulled as named before the build (the policy pack checks its pin).
    assert stack.one(REMOTE_IMAGE, "keycloak-image").inputs["name"] == build["args"]["BASE_IMAGE"]
    # The container runs the derived image by id, with no build option of its own.
    derived = stack.one(REMOTE_IMAGE, "keycloak-optimized-built-image").inputs
    assert derived["name"] == image["imageName"]
    keycloak = stack.one(CONTAINER, "keycloak").inputs
    assert keycloak["image"] == "sha256:keycloak-optimized-built-image"
    assert keycloak["command"] == ["start", "--optimized"]
    env = envs_of(stack, "keycloak")
    assert [o for o in BUILD_OPTIONS if f"KC_{o.upper().replace('-', '_')}" in env] == []


def test_keycloaks_derived_image_is_retagged_when_its_base_image_or_build_options_change(
    stack: DeclaredStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new tag is what replaces the container: the same tag would keep it on the old build."""
    local = pinned_versions()["LOCAL_KEYCLOAK_IMAGE"]
    on_local = keycloak_image(run_program({"keycloakImage": local}))
    assert on_local["build"]["args"]["BASE_IMAGE"] == local
    monkeypatch.setitem(BUILD_OPTIONS, "metrics-enabled", "true")
    with_metrics = keycloak_image(run_program())
    assert "--metrics-enabled=true" in with_metrics["build"]["args"]["BUILD_OPTIONS"]
    tags = {image["imageName"] for image in (keycloak_image(stack), on_local, with_metrics)}
    assert len(tags) == 3
    assert all(tag.startswith(f"{IMAGE_REPOSITORY}:") for tag in tags)


def test_keycloak_provider_logs_in_lazily_so_preview_works_before_keycloak_exists(
    stack: DeclaredStack,
) -> None:
    provider = stack.one("pulumi:providers:keycloak")
    assert provider.inputs["initialLogin"] in (False, "false")
    assert provider.inputs["url"] == "http://127.0.0.1:8080"
    # The first realm write after Keycloak's first start takes longer than the 5 s default.
    assert int(provider.inputs["clientTimeout"]) == 60


def test_mlflow_discovers_keycloak_internally_while_the_issuer_is_the_browsers(
    stack: DeclaredStack,
) -> None:
    env = envs_of(stack, "mlflow")
    assert env["OIDC_DISCOVERY_URL"] == (
        "http://keycloak:8080/realms/mlflow/.well-known/openid-configuration"
    )
    assert env["OIDC_ISSUER"] == "http://localhost:8080/realms/mlflow"
    assert env["OIDC_AUDIENCE"] == "mlflow"


def test_mlflow_gets_every_oidc_setting_from_the_realm(stack: DeclaredStack) -> None:
    env = envs_of(stack, "mlflow")
    assert env["OIDC_CLIENT_ID"] == "mlflow"
    # The stack's own secret, which Keycloak's client is given: MLflow need not wait for it.
    assert env["OIDC_CLIENT_SECRET"] == "generated-mlflow-client-secret"
    assert env["OIDC_REDIRECT_URI"] == "http://localhost:5000/callback"
    assert env["OIDC_GROUPS_ATTRIBUTE"] == "groups"
    assert env["OIDC_GROUP_NAME"] == "mlflow"
    assert env["OIDC_ADMIN_GROUP_NAME"] == "mlflow-admin"
    assert env["DEFAULT_MLFLOW_PERMISSION"] == "NO_PERMISSIONS"
    assert env["AUTOMATIC_LOGIN_REDIRECT"] == "true"
    assert env["MLFLOW_DISABLE_TELEMETRY"] == "true"
    assert env["SECRET_KEY"] == "generated-mlflow-secret-key"
    assert env["OIDC_USERS_DB_URI"].endswith("@mlflow-db:5432/mlflow_auth")
    assert env["MLFLOW_BACKEND_STORE_URI"].startswith("postgresql+psycopg://mlflow:")
    assert env["MLFLOW_BACKEND_STORE_URI"].endswith("@mlflow-db:5432/mlflow")


def test_mlflow_runs_the_oidc_auth_app(stack: DeclaredStack) -> None:
    command = stack.one(CONTAINER, "mlflow").inputs["command"]
    assert command[:3] == ["server", "--app-name", "oidc-auth"]
    assert command[command.index("--artifacts-destination") + 1] == "/var/lib/mlflow/artifacts"


def test_container_envs_holding_secrets_reach_the_engine_as_secrets(stack: DeclaredStack) -> None:
    for container in stack.of_type(CONTAINER):
        assert is_secret(container.inputs["envs"]), container.name


def test_secret_exports_stay_secret_and_urls_stay_plain(stack: DeclaredStack) -> None:
    exports = stack.exports
    for key in ("clientSecret", "keycloakAdminPassword", "userInitialPasswords"):
        assert resolve(exports[key])[1] is True, key
    for key in ("mlflowUrl", "keycloakUrl", "issuer"):
        assert isinstance(exports[key], str), key  # plain, readable in `stack output`
    passwords, _ = resolve(exports["userInitialPasswords"])
    assert set(passwords) == {"ada", "alan"}


def test_client_is_confidential_with_exact_callback_and_pkce(stack: DeclaredStack) -> None:
    client = stack.one("keycloak:openid/client:Client", "mlflow-client").inputs
    assert client["accessType"] == "CONFIDENTIAL"
    assert client["validRedirectUris"] == ["http://localhost:5000/callback"]
    assert client["validPostLogoutRedirectUris"] == ["http://localhost:5000/oidc/ui/auth"]
    assert client["webOrigins"] == ["http://localhost:5000"]
    assert client["pkceCodeChallengeMethod"] == "S256"
    assert client["standardFlowEnabled"] is True
    assert client["directAccessGrantsEnabled"] is False
    # The secret MLflow's containers hold, generated by the stack; a secret all the way.
    assert client["clientSecret"]["value"] == "generated-mlflow-client-secret"
    assert is_secret(client["clientSecret"])


def test_groups_claim_is_flat_and_in_the_id_token(stack: DeclaredStack) -> None:
    mapper = stack.one(
        "keycloak:openid/groupMembershipProtocolMapper:GroupMembershipProtocolMapper",
        "mlflow-client-groups",
    ).inputs
    assert mapper["claimName"] == "groups"
    assert mapper["fullPath"] is False
    assert mapper["addToIdToken"] is True
    assert mapper["addToAccessToken"] is True
    assert mapper["addToUserinfo"] is True


def test_access_tokens_carry_mlflow_as_audience(stack: DeclaredStack) -> None:
    audiences = {
        m.name: (m.inputs["includedClientAudience"], m.inputs["addToAccessToken"])
        for m in stack.of_type("keycloak:openid/audienceProtocolMapper:AudienceProtocolMapper")
    }
    assert audiences == {
        "mlflow-client-audience": ("mlflow", True),
        "stack-admin-client-audience": ("mlflow", True),
    }


def test_groups_exist_with_a_mirrored_realm_role_each(stack: DeclaredStack) -> None:
    groups = {g.inputs["name"] for g in stack.of_type("keycloak:index/group:Group")}
    roles = {r.inputs["name"] for r in stack.of_type("keycloak:index/role:Role")}
    assert groups == {"mlflow", "mlflow-admin"}
    assert roles == groups | {"otp-required"}
    assert len(stack.of_type("keycloak:index/groupRoles:GroupRoles")) == 2


def test_users_land_in_their_groups_with_temporary_generated_passwords(
    stack: DeclaredStack,
) -> None:
    ada = stack.one("keycloak:index/user:User", "users-ada").inputs
    assert ada["email"] == "ada@example.com"
    assert ada["firstName"] == "Ada"
    assert is_secret(ada["initialPassword"])
    assert plain(ada["initialPassword"])["temporary"] is True
    memberships = {
        m.name: m.inputs["groupIds"] for m in stack.of_type("keycloak:index/userGroups:UserGroups")
    }
    assert memberships == {
        "users-ada-groups": ["groups-mlflow-admin-id"],
        "users-alan-groups": ["groups-mlflow-id"],
        "stack-admin-client-groups-membership": ["groups-mlflow-admin-id"],
    }


def test_default_token_policy_brute_force_and_audit_trail(stack: DeclaredStack) -> None:
    realm = stack.one("keycloak:index/realm:Realm").inputs
    assert realm["realm"] == "mlflow"
    assert realm["accessTokenLifespan"] == "5m0s"
    assert realm["ssoSessionIdleTimeout"] == "30m0s"
    assert realm["ssoSessionMaxLifespan"] == "10h0m0s"
    assert realm["revokeRefreshToken"] is True
    assert realm["securityDefenses"]["bruteForceDetection"]["maxLoginFailures"] == 5
    assert realm["attributes"] == {"adminEventsExpiration": str(30 * 86400)}
    events = stack.one("keycloak:index/realmEvents:RealmEvents").inputs
    assert events["eventsEnabled"] is True and events["adminEventsEnabled"] is True
    assert events["eventsExpiration"] == 7 * 86400


def test_only_an_admin_may_change_an_email_and_the_other_root_attributes_stay_editable(
    stack: DeclaredStack,
) -> None:
    profile = stack.one("keycloak:index/realmUserProfile:RealmUserProfile").inputs
    edits = {a["name"]: a["permissions"]["edits"] for a in profile["attributes"]}
    assert edits == {
        "username": ["admin", "user"],
        "email": ["admin"],
        "firstName": ["admin", "user"],
        "lastName": ["admin", "user"],
    }


def test_remember_me_is_off_unless_the_config_turns_it_on(stack: DeclaredStack) -> None:
    assert stack.one("keycloak:index/realm:Realm").inputs["rememberMe"] is False
    turned_on = run_program({"rememberMe": "true"}).one("keycloak:index/realm:Realm")
    assert turned_on.inputs["rememberMe"] is True


def test_token_policy_values_flow_from_config() -> None:
    stack = run_program(
        {
            "accessTokenLifespan": "90s",
            "ssoSessionIdleTimeout": "1h",
            "ssoSessionMaxLifespan": "1d",
            "revokeRefreshToken": "false",
            "eventsExpiration": "2d",
            "bruteForceMaxLoginFailures": "3",
        }
    )
    realm = stack.one("keycloak:index/realm:Realm").inputs
    assert realm["accessTokenLifespan"] == "1m30s"
    assert realm["ssoSessionIdleTimeout"] == "1h0m0s"
    assert realm["ssoSessionMaxLifespan"] == "24h0m0s"
    assert realm["revokeRefreshToken"] is False
    assert realm["securityDefenses"]["bruteForceDetection"]["maxLoginFailures"] == 3
    events = stack.one("keycloak:index/realmEvents:RealmEvents").inputs
    assert events["eventsExpiration"] == 2 * 86400


def test_ports_hostnames_and_group_names_flow_from_config() -> None:
    stack = run_program(
        {
            "keycloakPort": "18080",
            "mlflowPort": "15000",
            "userGroup": "ml-users",
            "adminGroup": "ml-admins",
            "requireOtpFor": ["ml-admins"],
            "users": [
                {
                    "username": "grace",
                    "email": "grace@example.com",
                    "firstName": "Grace",
                    "lastName": "Hopper",
                    "groups": ["ml-users"],
                }
            ],
        }
    )
    env = envs_of(stack, "mlflow")
    assert env["OIDC_ISSUER"] == "http://localhost:18080/realms/mlflow"
    assert env["OIDC_REDIRECT_URI"] == "http://localhost:15000/callback"
    assert env["OIDC_GROUP_NAME"] == "ml-users"
    assert env["OIDC_ADMIN_GROUP_NAME"] == "ml-admins"
    assert envs_of(stack, "keycloak")["KC_HOSTNAME"] == "http://localhost:18080"
    ports = {c.name: c.inputs["ports"][0]["external"] for c in stack.of_type(CONTAINER)}
    assert ports["keycloak"] == 18080 and ports["mlflow"] == 15000


def test_mlflow_image_is_built_from_the_repo_unless_a_prebuilt_one_is_named(
    stack: DeclaredStack,
) -> None:
    image = stack.one(BUILT_IMAGE, "mlflow-image").inputs
    assert image["build"]["args"]["BASE_IMAGE"] == "python:3.13-slim-trixie"
    assert image["build"]["args"]["MLFLOW_OIDC_AUTH_VERSION"] == "11.0.2"
    assert image["skipPush"] is True
    # The container runs the built image by id (changes exactly when the content does).
    built = stack.one(REMOTE_IMAGE, "mlflow-built-image").inputs
    assert built["name"] == image["imageName"]
    assert stack.one(CONTAINER, "mlflow").inputs["image"] == "sha256:mlflow-built-image"
    prebuilt = run_program({"mlflowImage": "registry.example.com/mlflow:3.17.2"})
    assert [i.name for i in prebuilt.of_type(BUILT_IMAGE)] == ["keycloak-optimized-image"]
    assert (
        prebuilt.one(REMOTE_IMAGE, "mlflow-image").inputs["name"]
        == "registry.example.com/mlflow:3.17.2"
    )


DATA = {
    "mlflow-postgres-data",
    "keycloak-postgres-data",
    "mlflow-artifacts",
    "mlflow-tracking-db",
    "mlflow-auth-db",
    "keycloak-store-db",
    "mlflow-tracking-role",
    "mlflow-auth-role",
    "keycloak-store-role",
    "realm",
}


def test_a_stack_left_at_the_default_protects_and_retains_its_data(stack: DeclaredStack) -> None:
    assert "protectData" not in unit_config(None)
    assert stack.protected == {*DATA, "destroy-guard"}
    assert stack.retained == DATA


def test_destroy_must_delete_the_guard_before_anything_else(stack: DeclaredStack) -> None:
    # Dependents are deleted first: the guard depends on every other resource (components
    # own nothing to delete).
    others = {
        declared.name
        for declared in stack.resources
        if not declared.type.startswith("mlflowstack:") and declared.name != "destroy-guard"
    }
    assert stack.depends_on["destroy-guard"] == others


def test_protect_data_false_lets_destroy_delete_the_data() -> None:
    stack = run_program({"protectData": "false"})
    assert stack.protected == set()
    assert stack.retained == set()
    assert "destroy-guard" in stack.depends_on, "declared unprotected: an up may drop it"


def test_the_dev_stack_file_is_the_one_that_turns_protection_off() -> None:
    dev = yaml.safe_load((REPO / "Pulumi.dev.yaml").read_text())["config"]
    assert dev["mlflow-keycloak-stack:protectData"] is False


def test_exports_name_every_url_and_hide_every_secret(stack: DeclaredStack) -> None:
    values = {name: resolve(pulumi.Output.from_input(v)) for name, v in stack.exports.items()}
    secret = {name for name, (_, is_secret_output) in values.items() if is_secret_output}
    assert secret == {
        "clientSecret",
        "keycloakAdminPassword",
        "userInitialPasswords",
        "stackAdminClientSecret",
        "stackctlClientSecret",
    }
    assert values["mlflowUrl"][0] == "http://localhost:5000"
    assert values["keycloakUrl"][0] == "http://localhost:8080"
    assert values["keycloakAdminConsoleUrl"][0] == "http://localhost:8080/admin/master/console/"
    assert values["issuer"][0] == "http://localhost:8080/realms/mlflow"
    assert values["clientId"][0] == "mlflow"
    # What `stackctl users reconcile` admits by: the admin group, the user group, each team.
    assert values["mlflowGroups"][0][:2] == ["mlflow-admin", "mlflow"]


def test_no_automation_client_unless_configured(stack: DeclaredStack) -> None:
    # A set: the engine registers resources whose inputs are Outputs in no fixed order.
    clients = {c.inputs["clientId"] for c in stack.of_type("keycloak:openid/client:Client")}
    assert clients == {"mlflow", "mlflow-stackctl", "mlflow-stack-admin"}
    assert "automationClientSecret" not in stack.exports


def test_automation_client_gets_tokens_mlflow_admits() -> None:
    stack = run_program({"automationClientId": "mlflow-automation"})
    client = stack.one("keycloak:openid/client:Client", "automation-client").inputs
    assert client["clientId"] == "mlflow-automation"
    assert client["serviceAccountsEnabled"] is True
    assert client["standardFlowEnabled"] is False
    assert client["directAccessGrantsEnabled"] is False
    audience = stack.one(
        "keycloak:openid/audienceProtocolMapper:AudienceProtocolMapper",
        "automation-client-audience",
    ).inputs
    assert audience["includedClientAudience"] == "mlflow"
    groups = stack.one(
        "keycloak:openid/groupMembershipProtocolMapper:GroupMembershipProtocolMapper",
        "automation-client-groups",
    ).inputs
    assert groups["fullPath"] is False and groups["addToAccessToken"] is True
    membership = stack.one(
        "keycloak:index/userGroups:UserGroups", "automation-client-groups-membership"
    )
    assert membership.inputs["groupIds"] == ["groups-mlflow-id"]
    assert resolve(pulumi.Output.from_input(stack.exports["automationClientSecret"]))[1] is True
    assert envs_of(stack, "mlflow")["OIDC_PROVISION_ON_BEARER_AUTH"] == "true"


def test_postgres_stays_on_loopback_whatever_the_bind_address() -> None:
    stack = run_program({"bindAddress": "0.0.0.0", "tls": "internal"})
    hosts = {p.inputs["host"] for p in stack.of_type("pulumi:providers:postgresql")}
    assert hosts == {"127.0.0.1"}
    binds = {
        c.name: sorted((port["ip"], port["external"]) for port in c.inputs.get("ports", []))
        for c in stack.of_type(CONTAINER)
    }
    # Only the edge proxy is published beyond loopback: HTTPS and its redirect.
    assert binds == {
        "keycloak": [],
        "keycloak-postgres": [("127.0.0.1", 15433)],
        "mlflow": [],
        "mlflow-postgres": [("127.0.0.1", 15432)],
        "proxy": [("0.0.0.0", 8443), ("0.0.0.0", 8880), ("127.0.0.1", 5000), ("127.0.0.1", 8080)],
    }


def test_the_stack_admin_is_a_service_account_of_the_admin_group(stack: DeclaredStack) -> None:
    admin = stack.one("keycloak:openid/client:Client", "stack-admin-client").inputs
    assert admin["clientId"] == "mlflow-stack-admin"
    assert admin["serviceAccountsEnabled"] is True
    assert admin["standardFlowEnabled"] is False
    assert admin["directAccessGrantsEnabled"] is False
    envs = envs_of(stack, "mlflow")
    assert envs["OIDC_PROVISION_ON_BEARER_AUTH"] == envs["OIDC_TRUST_BEARER_GROUP_CLAIMS"] == "true"


def test_each_person_has_an_mlflow_account_active_when_enabled_and_in_a_group() -> None:
    users = [
        {**user, "username": name, "email": f"{name}@example.com", "groups": groups}
        for user in unit_config()["users"][:1]
        for name, groups in (("in", ["mlflow"]), ("nogroup", []), ("admin", ["mlflow-admin"]))
    ]
    users.append({**users[0], "username": "off", "email": "off@example.com", "enabled": False})
    stack = run_program({"users": users})
    accounts = {
        a.inputs["username"]: a.inputs["active"]
        for a in stack.of_type("pulumi-python:dynamic:Resource")
        if a.name.startswith("mlflow-accounts-")
    }
    # mlflow-oidc-auth knows people by their email.
    assert accounts == {
        "in@example.com": True,
        "nogroup@example.com": False,
        "admin@example.com": True,
        "off@example.com": False,
    }
    assert stack.one("keycloak:index/user:User", "users-off").inputs["enabled"] is False
    account = stack.one("pulumi-python:dynamic:Resource", "mlflow-accounts-in").inputs
    assert account["mlflow_url"] == "http://127.0.0.1:5000"
    assert is_secret(account["client_secret"])


def test_with_tls_only_the_proxy_publishes_and_each_service_trusts_only_its_edge_network() -> None:
    stack = run_program({"tls": "internal"})
    networks = {n.name: n for n in stack.of_type("docker:index/network:Network")}
    joined = {
        c.name: sorted(n["name"] for n in c.inputs["networksAdvanced"])
        for c in stack.of_type(CONTAINER)
    }
    edge = {
        name: networks[f"{name}-edge-network"].inputs["name"] for name in ("keycloak", "mlflow")
    }
    assert joined["proxy"] == sorted(edge.values())
    assert edge["keycloak"] in joined["keycloak"] and edge["mlflow"] not in joined["keycloak"]
    assert edge["mlflow"] in joined["mlflow"] and edge["keycloak"] not in joined["mlflow"]
    for service in ("keycloak", "mlflow"):
        assert stack.one(CONTAINER, service).inputs.get("ports", []) == []

    keycloak, mlflow = envs_of(stack, "keycloak"), envs_of(stack, "mlflow")
    assert keycloak["KC_HOSTNAME"] == "https://auth.localhost:8443"
    assert keycloak["KC_PROXY_HEADERS"] == "xforwarded"
    assert keycloak["KC_HOSTNAME_ADMIN"] == "http://127.0.0.1:8080"
    # The ranges Docker gave the edge networks but their gateways, the host (the harness plays
    # Docker here: 172.30.N.0/24, gateway .1).
    for trusted in (keycloak["KC_PROXY_TRUSTED_ADDRESSES"], mlflow["TRUSTED_PROXIES"]):
        blocks = [ipaddress.ip_network(block) for block in trusted.split(",")]
        edge_range = ipaddress.ip_network(blocks[0].network_address).supernet(new_prefix=24)
        gateway = edge_range.network_address + 1
        assert sum(block.num_addresses for block in blocks) == edge_range.num_addresses - 1
        assert all(block.subnet_of(edge_range) for block in blocks)  # type: ignore[arg-type]
        assert not any(gateway in block for block in blocks)
    assert mlflow["TRUSTED_PROXIES"] != keycloak["KC_PROXY_TRUSTED_ADDRESSES"]
    assert mlflow["SESSION_COOKIE_SECURE"] == "true"
    assert mlflow["SESSION_COOKIE_SAMESITE"] == "lax"
    assert mlflow["OIDC_REDIRECT_URI"] == "https://mlflow.localhost:8443/callback"
    assert "mlflow.localhost:8443" in mlflow["MLFLOW_SERVER_ALLOWED_HOSTS"].split(",")
    assert mlflow["MLFLOW_SERVER_CORS_ALLOWED_ORIGINS"] == "https://mlflow.localhost:8443"
    assert stack.one("keycloak:index/realm:Realm").inputs["sslRequired"] == "all"

    # The key makes the uploads secret (the engine marks the whole list).
    declared = stack.one(CONTAINER, "proxy").inputs["uploads"]
    assert is_secret(declared)
    uploads = {u["file"] for u in plain(declared)}
    assert uploads == {"/etc/caddy/Caddyfile", "/etc/caddy/tls/site.crt", "/etc/caddy/tls/site.key"}
    provider = stack.one("pulumi:providers:keycloak").inputs
    assert provider["url"] == "http://127.0.0.1:8080"
    assert stack.exports.keys() >= {"rootCaCertificate", "keycloakAdminUrl", "mlflowAdminUrl"}


def test_without_tls_the_realm_keeps_keycloaks_default_and_there_is_no_proxy(
    stack: DeclaredStack,
) -> None:
    assert stack.one("keycloak:index/realm:Realm").inputs["sslRequired"] == "external"
    assert [c.name for c in stack.of_type(CONTAINER) if c.name == "proxy"] == []
    assert "rootCaCertificate" not in stack.exports


def test_stackctl_has_a_realm_account_with_only_the_roles_its_commands_need(
    stack: DeclaredStack,
) -> None:
    client = stack.one("keycloak:openid/client:Client", "stackctl-client").inputs
    assert client["serviceAccountsEnabled"] is True
    assert client["standardFlowEnabled"] is False
    assert client["directAccessGrantsEnabled"] is False
    roles = {
        r.inputs["role"]: r.inputs["clientId"]
        for r in stack.of_type("keycloak:openid/clientServiceAccountRole:ClientServiceAccountRole")
    }
    reading = {"view-realm", "view-clients", "query-clients", "view-users", "query-users"}
    assert roles == dict.fromkeys(
        [*sorted(reading), "view-events", "manage-users"], "realm-management-uuid"
    )
    assert "manage-realm" not in roles and "manage-clients" not in roles


def test_concurrent_logins_of_one_user_stay_refused_unless_config_allows_them(
    stack: DeclaredStack,
) -> None:
    assert CONCURRENT_LOGINS_OPTION not in envs_of(stack, "keycloak")
    allowed = run_program({"bruteForceAllowConcurrentLogins": "true"})
    assert envs_of(allowed, "keycloak")[CONCURRENT_LOGINS_OPTION] == "true"


def test_mlflow_runs_the_configured_number_of_workers(stack: DeclaredStack) -> None:
    def workers(deployed: DeclaredStack) -> str:
        command = deployed.one(CONTAINER, "mlflow").inputs["command"]
        return str(command[command.index("--workers") + 1])

    assert workers(stack) == "1"
    assert workers(run_program({"mlflowWorkers": "3"})) == "3"


def test_teams_are_groups_that_admit_their_members_and_receive_declared_permissions() -> None:
    person = unit_config()["users"][0]
    users = [
        {**person, "username": "dana", "email": "Dana@example.com", "groups": [], "teams": ["ds"]},
        {**person, "username": "fin", "email": "fin@example.com", "groups": [], "teams": []},
    ]
    permissions = [
        {"team": "ds", "resource": "experiments", "pattern": "^ds-", "level": "EDIT"},
        {"user": "dana", "resource": "prompts", "name": "churn.v1", "level": "READ"},
    ]
    teams = [{"name": "ds", "description": "Data science"}]
    stack = run_program({"users": users, "teams": teams, "permissions": permissions})

    assert stack.one("keycloak:index/group:Group", "teams-ds").inputs["name"] == "ds"
    assert stack.one("keycloak:index/role:Role", "teams-ds-role").inputs["description"] == (
        "Data science"
    )
    # A team admits its members: MLflow lets the team's group sign in, dana's account is active.
    assert envs_of(stack, "mlflow")["OIDC_GROUP_NAME"] == "mlflow,ds"
    accounts = {
        a.inputs["username"]: a.inputs["active"]
        for a in stack.of_type("pulumi-python:dynamic:Resource")
        if a.name.startswith("mlflow-accounts-")
    }
    assert accounts == {"dana@example.com": True, "fin@example.com": False}

    grants = {
        (g.inputs["subject_kind"], g.inputs["subject"]): g.inputs
        for g in stack.of_type("pulumi-python:dynamic:Resource")
        if g.name.startswith("mlflow-permissions-")
    }
    assert set(grants) == {("group", "ds"), ("user", "dana@example.com")}
    team = grants[("group", "ds")]
    assert (team["resource"], team["regex"], team["level"]) == ("experiments", "^ds-", "EDIT")
    # An exact name is the pattern of that one name (the plugin matches from the start).
    assert grants[("user", "dana@example.com")]["regex"] == r"^churn\.v1$"
    assert all(is_secret(grant["client_secret"]) for grant in grants.values())


def test_admins_give_a_second_factor_through_the_realms_own_browser_flow(
    stack: DeclaredStack,
) -> None:
    flow = stack.one("keycloak:authentication/flow:Flow", "second-factor-flow").inputs
    bindings = stack.one("keycloak:authentication/bindings:Bindings", "second-factor-bindings")
    assert bindings.inputs["browserFlow"] == flow["alias"]
    steps = {
        e.name.removeprefix("second-factor-"): (e.inputs["authenticator"], e.inputs["requirement"])
        for e in stack.of_type("keycloak:authentication/execution:Execution")
    }
    assert steps == {
        "cookie": ("auth-cookie", "ALTERNATIVE"),
        "password": ("auth-username-password-form", "REQUIRED"),
        "condition": ("conditional-user-role", "REQUIRED"),
        "otp": ("auth-otp-form", "REQUIRED"),
        # The same condition and code after a brokered sign-in (the IdPs' post-broker flow).
        "post-broker-condition": ("conditional-user-role", "REQUIRED"),
        "post-broker-otp": ("auth-otp-form", "REQUIRED"),
        "post-broker-allow": ("allow-access-authenticator", "REQUIRED"),
    }
    second = stack.one("keycloak:authentication/subflow:Subflow", "second-factor-second-factor")
    assert second.inputs["requirement"] == "CONDITIONAL"
    broker_second = stack.one(
        "keycloak:authentication/subflow:Subflow", "second-factor-post-broker-second-factor"
    )
    assert broker_second.inputs["requirement"] == "CONDITIONAL"
    condition = stack.one(
        "keycloak:authentication/executionConfig:ExecutionConfig", "second-factor-condition-config"
    )
    assert condition.inputs["config"] == {"condUserRole": "otp-required", "negate": "false"}
    # Only the admin group grants the role that the condition asks for.
    otp_role = stack.one("keycloak:index/role:Role", "second-factor-role")
    holders = [
        g.name
        for g in stack.of_type("keycloak:index/groupRoles:GroupRoles")
        if len(g.inputs["roleIds"]) == 2
    ]
    assert holders == ["groups-mlflow-admin-roles"]
    assert otp_role.inputs["name"] == "otp-required"


def test_no_second_factor_when_require_otp_for_is_empty() -> None:
    stack = run_program({"requireOtpFor": []})
    assert stack.of_type("keycloak:authentication/flow:Flow") == []


def test_a_brokered_idp_is_resolved_by_keycloak_and_maps_its_groups_onto_teams() -> None:
    idp = {
        "alias": "corp",
        "discoveryUrl": "https://idp.corp.example/realms/staff/.well-known/openid-configuration",
        "clientId": "mlflow",
        "clientSecret": "from-the-corp-admin",
        "teams": {"corp-ds": "ds"},
    }
    stack = run_program({"teams": [{"name": "ds"}], "identityProviders": [idp]})
    provider = stack.one("keycloak:oidc/identityProvider:IdentityProvider", "brokering-corp")
    assert provider.inputs["alias"] == "corp"
    assert is_secret(provider.inputs["clientSecret"])
    assert provider.inputs["syncMode"] == "FORCE"
    # Its people give the second factor their groups need after the brokered sign-in too.
    post_broker = stack.one("keycloak:authentication/flow:Flow", "second-factor-post-broker-flow")
    assert provider.inputs["postBrokerLoginFlowAlias"] == post_broker.inputs["alias"]
    discovery = stack.one("pulumi-python:dynamic:Resource", "brokering-corp-discovery").inputs
    assert discovery["discovery_url"] == idp["discoveryUrl"]
    assert discovery["url"] == "http://127.0.0.1:8080"  # Keycloak reads the document itself
    assert is_secret(discovery["password"])
    mapper = stack.one(
        "keycloak:index/customIdentityProviderMapping:CustomIdentityProviderMapping",
        "brokering-corp-corp-ds-to-ds",
    ).inputs
    assert mapper["identityProviderMapper"] == "oidc-advanced-group-idp-mapper"
    assert mapper["extraConfig"]["group"] == "/ds"
    assert mapper["extraConfig"]["claims"] == '[{"key": "groups", "value": "corp-ds"}]'


def test_a_directory_is_federated_read_only_and_only_its_team_groups_are_read() -> None:
    directory = {
        "connectionUrl": "ldaps://ldap.corp.example:636",
        "bindDn": "cn=keycloak,dc=corp,dc=example",
        "bindPassword": "from-the-directory-admin",
        "usersDn": "ou=people,dc=corp,dc=example",
        "groupsDn": "ou=groups,dc=corp,dc=example",
    }
    teams = [{"name": "ds"}, {"name": "finance"}]
    stack = run_program({"teams": teams, "ldap": [directory]})
    federation = stack.one("keycloak:ldap/userFederation:UserFederation", "directories-ldap")
    assert federation.inputs["editMode"] == "READ_ONLY"
    assert federation.inputs["connectionUrl"] == "ldaps://ldap.corp.example:636"
    assert is_secret(federation.inputs["bindCredential"])
    mapper = stack.one("keycloak:ldap/groupMapper:GroupMapper", "directories-ldap-teams").inputs
    assert mapper["groupsLdapFilter"] == "(|(cn=ds)(cn=finance))"
    assert mapper["mode"] == "READ_ONLY"
    assert mapper["ldapGroupsDn"] == "ou=groups,dc=corp,dc=example"


def test_mlflow_replicas_share_key_stores_and_artifacts_behind_the_proxy() -> None:
    stack = run_program({"tls": "internal", "mlflowReplicas": "2"})
    first, second = stack.one(CONTAINER, "mlflow"), stack.one(CONTAINER, "mlflow-2")
    assert second.inputs["name"].endswith("-mlflow-2")
    assert envs_of(stack, "mlflow") == envs_of(stack, "mlflow-2")  # one SECRET_KEY, same stores
    assert first.inputs["volumes"] == second.inputs["volumes"]
    aliases = {
        c.name: {a for n in c.inputs["networksAdvanced"] for a in n["aliases"]}
        for c in (first, second)
    }
    assert aliases == {"mlflow": {"mlflow"}, "mlflow-2": {"mlflow-2"}}
    assert second.inputs.get("ports", []) == []
    uploads = stack.one(CONTAINER, "proxy").inputs["uploads"]
    uploads = uploads["value"] if isinstance(uploads, dict) else uploads  # secret: the key
    (caddyfile,) = [u["content"] for u in uploads if u["file"].endswith("Caddyfile")]
    assert "reverse_proxy mlflow:5000 mlflow-2:5000 {" in caddyfile
    services = resolve(pulumi.Output.from_input(stack.exports["dataStores"]))[0]["services"]
    assert len(services) == 3  # backups stop Keycloak and both MLflow servers


KUBERNETES = {
    "target": "kubernetes",
    "mlflowImage": "registry.example.com/mlflow-oidc:3.17.2",
    "mlflowHostname": "mlflow.example.com",
    "keycloakHostname": "auth.example.com",
    "kubernetes": {
        "ingressCertificate": "mlflow-tls",
        "artifacts": {"bucket": "ml-artifacts", "accessKeyId": "a", "secretAccessKey": "s"},
    },
}


def test_on_kubernetes_the_realm_is_declared_through_the_admin_url_with_the_same_components() -> (
    None
):
    stack = run_program(KUBERNETES)
    provider = stack.one("pulumi:providers:keycloak", "keycloak-provider").inputs
    assert provider["url"] == "http://127.0.0.1:8080"  # kubernetes.keycloakAdminUrl's default
    client = stack.one("keycloak:openid/client:Client", "mlflow-client").inputs
    assert client["validRedirectUris"] == ["https://mlflow.example.com/callback"]
    # The secret the stack generated, which MLflow's pods already hold; a secret all the way.
    assert client["clientSecret"]["value"] == "generated-mlflow-client-secret"
    for kind in ("keycloak:index/realm:Realm", "keycloak:index/group:Group"):
        assert stack.of_type(kind), kind
    assert stack.of_type(CONTAINER) == []
    keycloak = stack.one("kubernetes:k8s.keycloak.org/v2alpha1:Keycloak").inputs
    assert keycloak["metadata"]["annotations"] == {"pulumi.com/waitFor": "condition=Ready"}
    assert set(stack.exports) >= {"clientSecret", "stackctlClientSecret", "keycloakAdminUrl"}

"""The Docker target's resource graph: networks, ports, volumes, images, containers, the edge
proxy and data protection, on the real program under Pulumi's mock engine."""

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
from tests.unit.declared import (
    BUILT_IMAGE,
    CONCURRENT_LOGINS_OPTION,
    CONTAINER,
    REMOTE_IMAGE,
    envs_of,
    is_secret,
    plain,
)


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


def test_concurrent_logins_of_one_user_stay_refused_unless_config_allows_them(
    stack: DeclaredStack,
) -> None:
    assert CONCURRENT_LOGINS_OPTION not in envs_of(stack, "keycloak")
    allowed = run_program({"bruteForceAllowConcurrentLogins": "true"})
    assert envs_of(allowed, "keycloak")[CONCURRENT_LOGINS_OPTION] == "true"


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

"""Each policy, through the SDK's Analyze: the stack's own settings pass, a weakened copy fails."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from policy_wire import COMPUTED, secret
from stack_policies.pack import RULES
from stack_policies.resource_types import (
    BUILT_IMAGE,
    CONTAINER,
    DYNAMIC,
    GROUP_MAPPER,
    OIDC_CLIENT,
    REALM,
    REALM_EVENTS,
    REMOTE_IMAGE,
)

from stackrules.mlflow_permissions import RESOURCE_MARKER
from stackrules.names import EDGE_PROXY_CONFIG_PATH, EDGE_PROXY_ROLE, ENV_NAMES_LABEL, ROLE_LABEL

KEYCLOAK_CONTAINER: dict[str, Any] = {
    "name": "keycloak",
    "image": "sha256:" + "ab" * 32,
    "command": ["start"],
    "envs": secret(
        [
            "KC_DB=postgres",
            "KC_DB_PASSWORD=s3cr3t-from-random",
            "KC_BOOTSTRAP_ADMIN_PASSWORD=an0ther",
            "KC_HOSTNAME=http://localhost:8080",
            "KC_HTTP_ENABLED=true",
        ]
    ),
    "ports": [{"internal": 8080, "external": 8080, "ip": "127.0.0.1", "protocol": "tcp"}],
}
MLFLOW_CONTAINER: dict[str, Any] = {
    "name": "mlflow",
    "image": "mlflow-stack/mlflow:3f9c2a1b",
    "command": ["mlflow", "server", "--app-name", "oidc-auth", "--host", "0.0.0.0"],
    "envs": secret(
        [
            "MLFLOW_BACKEND_STORE_URI=postgresql://mlflow:pw@mlflow-db:5432/mlflow",
            "OIDC_DISCOVERY_URL=http://keycloak:8080/realms/mlflow/.well-known/openid-configuration",
            "OIDC_CLIENT_ID=mlflow",
            "OIDC_CLIENT_SECRET=generated",
            "OIDC_ISSUER=http://localhost:8080/realms/mlflow",
            "OIDC_AUDIENCE=mlflow",
            "DEFAULT_MLFLOW_PERMISSION=NO_PERMISSIONS",
        ]
    ),
    "ports": [{"internal": 5000, "external": 5000, "ip": "127.0.0.1"}],
}


PROXY_CONTAINER: dict[str, Any] = {
    "name": "proxy",
    "image": "sha256:" + "cd" * 32,
    "envs": [],
    "uploads": [{"file": EDGE_PROXY_CONFIG_PATH, "content": "mlflow.example.test:443 { ... }"}],
    "ports": [
        {"internal": 443, "external": 8443, "ip": "127.0.0.1"},
        {"internal": 80, "external": 8088, "ip": "127.0.0.1"},
    ],
    "labels": [
        {"label": ROLE_LABEL, "value": EDGE_PROXY_ROLE},
        {"label": ENV_NAMES_LABEL, "value": ""},
    ],
}


def env_names_label(container: dict[str, Any]) -> list[dict[str, str]]:
    """The env-names label of a container whose envs are all known, as the stack writes it."""
    names = [line.split("=")[0] for line in container["envs"]["value"]]
    return [{"label": ENV_NAMES_LABEL, "value": ",".join(names)}]


# An MLflow container of a new stack's preview: the lines holding generated secrets unknown,
# named by the label.
MLFLOW_IN_PREVIEW = {
    **MLFLOW_CONTAINER,
    "envs": secret(
        [
            COMPUTED if "postgresql" in line or "SECRET" in line else line
            for line in MLFLOW_CONTAINER["envs"]["value"]
        ]
    ),
    "labels": env_names_label(MLFLOW_CONTAINER),
}


PERMISSION_PROPS: dict[str, Any] = {
    RESOURCE_MARKER: True,
    "subject_kind": "group",
    "subject": "data-science",
    "resource": "experiments",
    "regex": "^ds-",
    "level": "MANAGE",
}


def _mlflow_envs(**changes: str | None) -> Any:
    """MLflow's envs with NAME=value entries replaced (None: removed)."""
    lines = [
        line for line in MLFLOW_CONTAINER["envs"]["value"] if line.split("=")[0] not in changes
    ]
    return secret(
        lines + [f"{name}={value}" for name, value in changes.items() if value is not None]
    )


REALM_PROPS: dict[str, Any] = {
    "realm": "mlflow",
    "accessTokenLifespan": "5m0s",
    "ssoSessionMaxLifespan": "10h0m0s",
    "revokeRefreshToken": True,
    "passwordPolicy": "length(12) and notUsername and notEmail",
    "securityDefenses": {"bruteForceDetection": {"maxLoginFailures": 5}},
    "attributes": {"adminEventsExpiration": "2592000"},
}
REALM_EVENTS_PROPS: dict[str, Any] = {
    "realmId": "mlflow",
    "eventsEnabled": True,
    "eventsExpiration": 604800,
    "adminEventsEnabled": True,
    "adminEventsDetailsEnabled": True,
}
CLIENT_PROPS: dict[str, Any] = {
    "clientId": "mlflow",
    "accessType": "CONFIDENTIAL",
    "validRedirectUris": ["http://localhost:5000/callback"],
    "validPostLogoutRedirectUris": ["http://localhost:5000/oidc/ui/auth"],
    "directAccessGrantsEnabled": False,
}
MAPPER_PROPS: dict[str, Any] = {
    "claimName": "groups",
    "fullPath": False,
    "addToIdToken": True,
}


LAN = "192.0.2.10"
PROXY_LABELS = [{"label": ROLE_LABEL, "value": EDGE_PROXY_ROLE}]


def _with(props: dict[str, Any], **changes: Any) -> dict[str, Any]:
    changed = copy.deepcopy(props)
    for key, value in changes.items():
        if value is None:
            changed.pop(key, None)
        else:
            changed[key] = value
    return changed


def _weakened(
    resource_type: str, props: dict[str, Any], **changes: Any
) -> tuple[str, dict[str, Any], dict[str, Any]]:
    return resource_type, props, _with(props, **changes)


# policy name -> (resource type, the stack's compliant props, a violating variant)
CASES: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {
    # The edge proxy on every interface: refused by the address allow-list alone.
    "ports-on-loopback-only": _weakened(
        CONTAINER, PROXY_CONTAINER, ports=[{"internal": 443, "external": 8443, "ip": "0.0.0.0"}]
    ),
    # A service on an allowed LAN address, but in plain HTTP (not the TLS proxy).
    "tls-beyond-loopback": _weakened(
        CONTAINER,
        KEYCLOAK_CONTAINER,
        ports=[{"internal": 8080, "external": 8080, "ip": "192.0.2.10"}],
    ),
    # A line built from another resource's output, and the label that names it left out.
    "container-env-names-declared": _weakened(CONTAINER, MLFLOW_IN_PREVIEW, labels=[]),
    "container-env-names-unique": _weakened(
        CONTAINER,
        MLFLOW_CONTAINER,
        envs=secret([*MLFLOW_CONTAINER["envs"]["value"], "DEFAULT_MLFLOW_PERMISSION=MANAGE"]),
    ),
    # The audience built from another resource's output: unknown in the preview.
    "mlflow-oidc-settings-known": _weakened(
        CONTAINER,
        MLFLOW_IN_PREVIEW,
        envs=secret(
            [
                COMPUTED if line.startswith("OIDC_AUDIENCE=") else line
                for line in MLFLOW_IN_PREVIEW["envs"]["value"]
            ]
        ),
    ),
    "keycloak-production-mode": _weakened(CONTAINER, KEYCLOAK_CONTAINER, command=["start-dev"]),
    "keycloak-brute-force-detection": _weakened(REALM, REALM_PROPS, securityDefenses=None),
    "keycloak-events-stored": _weakened(REALM_EVENTS, REALM_EVENTS_PROPS, eventsExpiration=0),
    "keycloak-admin-events-expire": _weakened(REALM, REALM_PROPS, attributes={}),
    "keycloak-access-token-lifespan": _weakened(REALM, REALM_PROPS, accessTokenLifespan="1h0m0s"),
    "keycloak-flat-groups-claim": _weakened(GROUP_MAPPER, MAPPER_PROPS, fullPath=True),
    "keycloak-confidential-client-exact-redirects": _weakened(
        OIDC_CLIENT, CLIENT_PROPS, validRedirectUris=["http://localhost:5000/*"]
    ),
    "images-pinned": (
        REMOTE_IMAGE,
        {"name": "mlflow-stack/keycloak:26.4.7-trixie", "keepLocally": True},
        {"name": "quay.io/keycloak/keycloak:latest", "keepLocally": True},
    ),
    "mlflow-oidc-issuer-and-audience": _weakened(
        CONTAINER, MLFLOW_CONTAINER, envs=_mlflow_envs(OIDC_ISSUER=None)
    ),
    "mlflow-oidc-audience-is-the-client": _weakened(
        CONTAINER, MLFLOW_CONTAINER, envs=_mlflow_envs(OIDC_AUDIENCE="account")
    ),
    "mlflow-default-permission": _weakened(
        CONTAINER, MLFLOW_CONTAINER, envs=_mlflow_envs(DEFAULT_MLFLOW_PERMISSION="MANAGE")
    ),
    "container-no-host-access": _weakened(CONTAINER, KEYCLOAK_CONTAINER, networkMode="host"),
    "keycloak-sso-session-lifespan": _weakened(
        REALM, REALM_PROPS, ssoSessionMaxLifespan="8760h0m0s"
    ),
    "keycloak-refresh-token-rotation": _weakened(REALM, REALM_PROPS, revokeRefreshToken=False),
    "keycloak-password-policy": _weakened(REALM, REALM_PROPS, passwordPolicy=""),
    "keycloak-no-direct-grants": _weakened(
        OIDC_CLIENT, CLIENT_PROPS, directAccessGrantsEnabled=True
    ),
    "mlflow-no-catch-all-manage": _weakened(DYNAMIC, PERMISSION_PROPS, regex=".."),
    "container-secrets-not-plaintext": _weakened(
        CONTAINER,
        MLFLOW_CONTAINER,
        envs=[line for line in MLFLOW_CONTAINER["envs"]["value"] if "BACKEND" not in line],
    ),
}


def test_every_policy_has_a_case() -> None:
    assert sorted(CASES) == sorted(rule.name for rule in RULES)


@pytest.mark.parametrize("policy", sorted(CASES))
def test_the_stacks_settings_pass(analyze, policy: str) -> None:
    resource_type, compliant, _ = CASES[policy]
    assert [name for name, _ in analyze(resource_type, compliant)] == []


# Pack config that lets a case violate its own policy alone.
CASE_CONFIG = {
    "tls-beyond-loopback": {"ports-on-loopback-only": {"allowedBindAddresses": ["192.0.2.10"]}}
}


def test_a_new_stacks_preview_names_its_unknown_lines_and_passes(analyze) -> None:
    assert analyze(CONTAINER, MLFLOW_IN_PREVIEW) == []


@pytest.mark.parametrize("policy", sorted(CASES))
def test_a_weakened_resource_is_reported_with_a_fix(analyze, policy: str) -> None:
    resource_type, _, violating = CASES[policy]
    diagnostics = analyze(resource_type, violating, CASE_CONFIG.get(policy))
    assert [name for name, _ in diagnostics] == [policy]
    assert "Fix:" in diagnostics[0][1]


def test_built_and_pulled_images_are_checked_by_their_own_property(analyze) -> None:
    assert analyze(BUILT_IMAGE, {"imageName": "mlflow-stack/mlflow:3f9c2a1b"}) == []
    assert [n for n, _ in analyze(BUILT_IMAGE, {"imageName": "mlflow-stack/mlflow"})] == [
        "images-pinned"
    ]


def test_values_unknown_in_preview_are_not_judged(analyze) -> None:
    computed_container = {
        "image": COMPUTED,
        "command": ["start"],
        "envs": secret([COMPUTED, "KC_DB=postgres"]),
        "labels": [{"label": ENV_NAMES_LABEL, "value": "KC_DB_PASSWORD,KC_DB"}],
        "ports": [{"internal": 8080, "external": 8080, "ip": COMPUTED}],
    }
    assert analyze(CONTAINER, computed_container) == []
    assert analyze(REALM, _with(REALM_PROPS, accessTokenLifespan=COMPUTED)) == []
    assert analyze(OIDC_CLIENT, _with(CLIENT_PROPS, accessType=COMPUTED)) == []


def test_policy_config_widens_a_rule(analyze) -> None:
    open_port = _with(PROXY_CONTAINER, ports=[{"internal": 443, "external": 443, "ip": LAN}])
    assert [n for n, _ in analyze(CONTAINER, open_port)] == ["ports-on-loopback-only"]
    config = {"ports-on-loopback-only": {"allowedBindAddresses": ["192.0.2.10"]}}
    assert analyze(CONTAINER, open_port, config) == []


def test_token_bound_comes_from_policy_config(analyze) -> None:
    realm = _with(REALM_PROPS, accessTokenLifespan="10m")
    assert analyze(REALM, realm) == []
    config = {"keycloak-access-token-lifespan": {"maxAccessTokenLifespanSeconds": 300}}
    assert [n for n, _ in analyze(REALM, realm, config)] == ["keycloak-access-token-lifespan"]

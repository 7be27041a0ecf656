"""Bad stack config fails before any resource exists, naming the key, the value and the fix."""

from __future__ import annotations

from typing import Any

import pytest

from components.config import ConfigError, StackConfig, parse_config
from tests.unit.harness import BASE_USERS, run_program


def user(**changes: Any) -> dict[str, Any]:
    return {**BASE_USERS[1], **changes}


def config_error(raw: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_config(raw)
    return str(caught.value)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(
            {"users": [user(groups=["admins"])]},
            ["users[0].groups", "unknown group 'admins'", "'mlflow' and 'mlflow-admin'"],
            id="unknown-group-on-user",
        ),
        pytest.param(
            {"users": [user(), user(email="other@example.com")]},
            ["users[1].username = 'alan'", "duplicate username"],
            id="duplicate-username",
        ),
        pytest.param(
            {"users": [user(), user(username="alan2")]},
            ["users[1].email", "duplicate email"],
            id="duplicate-email",
        ),
        pytest.param(
            {"users": [user(email="alan-at-example.com")]},
            ["users[0].email = 'alan-at-example.com'", "not an email address"],
            id="malformed-email",
        ),
        pytest.param(
            {"users": [user(username="Alan Turing")]},
            ["users[0].username = 'Alan Turing'", "lower-case"],
            id="username-with-space-and-capitals",
        ),
        pytest.param(
            {"users": [{"username": "x", "email": "x@example.com"}]},
            ["users[0].firstName: required", "users[0].lastName: required"],
            id="user-without-names",
        ),
        pytest.param(
            {"users": [user(role="admin")]},
            ["users[0].role: unknown key"],
            id="unknown-user-field",
        ),
        pytest.param(
            {"accessTokenLifespan": "five minutes"},
            ["accessTokenLifespan = 'five minutes'", "not a duration", "'5m'"],
            id="lifespan-not-parseable",
        ),
        pytest.param(
            {"accessTokenLifespan": "2s"},
            ["accessTokenLifespan = '2s'", "between 10s and 15m"],
            id="lifespan-too-short",
        ),
        pytest.param(
            {"accessTokenLifespan": "15m", "ssoSessionIdleTimeout": "10m"},
            ["accessTokenLifespan = '15m'", "longer than ssoSessionIdleTimeout = '10m'"],
            id="token-outlives-session",
        ),
        pytest.param(
            {"ssoSessionIdleTimeout": "12h", "ssoSessionMaxLifespan": "10h"},
            ["ssoSessionIdleTimeout = '12h'", "longer than ssoSessionMaxLifespan"],
            id="idle-beyond-max",
        ),
        pytest.param(
            {"eventsExpiration": "10m"},
            ["eventsExpiration = '10m'", "between 1h and"],
            id="events-kept-too-briefly",
        ),
        pytest.param(
            {"mlflowPort": "70000"},
            ["mlflowPort = '70000'", "less than or equal to 65535"],
            id="port-out-of-range",
        ),
        pytest.param(
            {"mlflowPort": "http"},
            ["mlflowPort = 'http'", "valid integer"],
            id="port-not-a-number",
        ),
        pytest.param(
            {"mlflowPort": "8080"},
            ["mlflowPort = 8080: clashes with keycloakPort = 8080"],
            id="ports-clash",
        ),
        pytest.param(
            {"keycloakImage": "quay.io/keycloak/keycloak"},
            ["keycloakImage = 'quay.io/keycloak/keycloak'", "has no tag"],
            id="image-without-tag",
        ),
        pytest.param(
            {"postgresImage": "postgres:latest"},
            ["postgresImage = 'postgres:latest'", "'latest'"],
            id="image-latest",
        ),
        pytest.param(
            {"bindAddress": "everywhere"},
            ["bindAddress = 'everywhere'", "not an IP address"],
            id="bind-address-not-ip",
        ),
        pytest.param(
            {"defaultMlflowPermission": "WRITE"},
            ["defaultMlflowPermission = 'WRITE'", "'READ'", "'NO_PERMISSIONS'"],
            id="unknown-mlflow-permission",
        ),
        pytest.param(
            {"adminGroup": "mlflow"},
            ["adminGroup = 'mlflow': same as userGroup"],
            id="admin-group-equals-user-group",
        ),
        pytest.param(
            {"accesTokenLifespan": "5m"},
            ["accesTokenLifespan: unknown config key", "did you mean 'accessTokenLifespan'"],
            id="misspelt-key",
        ),
        pytest.param(
            {"publicHostname": "http://localhost"},
            ["publicHostname = 'http://localhost'", "bare host name"],
            id="hostname-with-scheme",
        ),
        pytest.param(
            {"revokeRefreshToken": "maybe"},
            ["revokeRefreshToken = 'maybe'", "valid boolean"],
            id="boolean-not-boolean",
        ),
    ],
)
def test_bad_config_is_refused_with_key_value_and_fix(
    raw: dict[str, Any], expected: list[str]
) -> None:
    message = config_error(raw)
    assert "mlflow-keycloak-stack:" in message
    assert "Fix:" in message or "did you mean" in message or "unknown key" in message
    for fragment in expected:
        assert fragment in message


def test_every_problem_is_reported_at_once() -> None:
    message = config_error({"mlflowPort": "0", "keycloakImage": "kc", "eventsExpiration": "x"})
    assert "(3 problem(s))" in message
    for key in ("mlflowPort", "keycloakImage", "eventsExpiration"):
        assert f"mlflow-keycloak-stack:{key} = " in message


def test_defaults_make_a_valid_stack_with_pinned_images() -> None:
    cfg = parse_config({})
    assert cfg == StackConfig()
    assert cfg.keycloak_image == "quay.io/keycloak/keycloak:26.4.7"
    assert cfg.bind_address == "127.0.0.1"
    assert cfg.users == ()


def test_the_program_itself_refuses_bad_config() -> None:
    with pytest.raises(ConfigError, match="accessTokenLifespan"):
        run_program({"accessTokenLifespan": "forever"})

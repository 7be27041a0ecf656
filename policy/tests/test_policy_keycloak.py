"""Realm, events, client and groups-mapper rules as pure functions of plain properties."""

from __future__ import annotations

from typing import Any

import pytest
from stack_policies.keycloak_client import confidential_client, flat_groups_claim, no_direct_grants
from stack_policies.keycloak_realm import (
    access_token_lifespan,
    admin_events_expire,
    brute_force_detection,
    events_stored,
    password_policy,
    refresh_token_rotation,
    sso_session_lifespan,
)
from stack_policies.props import UNKNOWN
from stack_policies.resource_types import GROUP_MAPPER, OIDC_CLIENT, REALM, REALM_EVENTS
from stack_policies.rule import Resource, Rule

from stackrules.durations import duration_seconds


def realm(**props: Any) -> Resource:
    return Resource(REALM, {"realm": "mlflow", **props})


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("5m0s", 300),
        ("5m", 300),
        ("300s", 300),
        ("300", 300),
        ("1h30m", 5400),
        ("1.5h", 5400),
        ("7d", 604800),
        ("500ms", 0.5),
        (90, 90),
    ],
)
def test_durations(text: Any, seconds: float) -> None:
    assert duration_seconds(text) == seconds


@pytest.mark.parametrize("text", ["", "5 minutes", "m5", "5x", "1h 30m"])
def test_unreadable_durations(text: str) -> None:
    with pytest.raises(ValueError):
        duration_seconds(text)


def test_brute_force_detection() -> None:
    on = realm(securityDefenses={"bruteForceDetection": {"maxLoginFailures": 5}})
    assert brute_force_detection.violations(on) == []
    for off in (realm(), realm(securityDefenses={}), realm(securityDefenses={"headers": {}})):
        [message] = brute_force_detection.violations(off)
        assert "mlflow-keycloak-stack:bruteForceMaxLoginFailures" in message
    assert brute_force_detection.violations(realm(securityDefenses=UNKNOWN)) == []


def test_admin_events_expiration_attribute() -> None:
    assert (
        admin_events_expire.violations(realm(attributes={"adminEventsExpiration": "2592000"})) == []
    )
    for attributes in (None, {}, {"adminEventsExpiration": "0"}, {"adminEventsExpiration": "30d"}):
        [message] = admin_events_expire.violations(realm(attributes=attributes))
        assert "mlflow-keycloak-stack:adminEventsExpiration" in message
    assert (
        admin_events_expire.violations(realm(attributes={"adminEventsExpiration": UNKNOWN})) == []
    )


@pytest.mark.parametrize("lifespan", ["5m0s", "15m", "900s", None])
def test_access_token_lifespan_within_default_bound(lifespan: Any) -> None:
    props = {} if lifespan is None else {"accessTokenLifespan": lifespan}
    assert access_token_lifespan.violations(realm(**props)) == []


@pytest.mark.parametrize("lifespan", ["15m1s", "1h0m0s", "forever"])
def test_access_token_lifespan_beyond_bound(lifespan: str) -> None:
    [message] = access_token_lifespan.violations(realm(accessTokenLifespan=lifespan))
    assert "mlflow-keycloak-stack:accessTokenLifespan" in message


def test_access_token_bound_is_configurable() -> None:
    config = {"maxAccessTokenLifespanSeconds": 120}
    assert access_token_lifespan.violations(realm(accessTokenLifespan="2m"), config) == []
    # Unset means Keycloak's 300 s default, which a 120 s bound rejects.
    assert access_token_lifespan.violations(realm(), config)


def events(**changes: Any) -> Resource:
    props = {
        "realmId": "mlflow",
        "eventsEnabled": True,
        "eventsExpiration": 604800.0,
        "adminEventsEnabled": True,
    }
    props.update(changes)
    return Resource(REALM_EVENTS, {k: v for k, v in props.items() if v is not None})


def test_events_stored_with_expiration() -> None:
    assert events_stored.violations(events()) == []
    assert (
        len(
            events_stored.violations(
                events(eventsEnabled=None, eventsExpiration=None, adminEventsEnabled=None)
            )
        )
        == 3
    )
    [message] = events_stored.violations(events(eventsExpiration=0))
    assert "mlflow-keycloak-stack:eventsExpiration" in message
    [message] = events_stored.violations(events(adminEventsEnabled=False))
    assert "admin_events_enabled=True" in message
    assert events_stored.violations(events(eventsExpiration=UNKNOWN)) == []


def mapper(**props: Any) -> Resource:
    return Resource(GROUP_MAPPER, {"claimName": "groups", **props})


def test_groups_claim_is_flat() -> None:
    assert flat_groups_claim.violations(mapper(fullPath=False)) == []
    # The provider's default for full_path is true.
    for props in ({}, {"fullPath": True}):
        [message] = flat_groups_claim.violations(mapper(**props))
        assert "full_path=False" in message
    [message] = flat_groups_claim.violations(mapper(fullPath=False, addToIdToken=False))
    assert "add_to_id_token=True" in message
    assert flat_groups_claim.violations(mapper(fullPath=UNKNOWN)) == []


def client(**changes: Any) -> Resource:
    props = {
        "clientId": "mlflow",
        "accessType": "CONFIDENTIAL",
        "validRedirectUris": ["http://localhost:5000/callback"],
        "validPostLogoutRedirectUris": ["http://localhost:5000/oidc/ui/auth"],
    }
    props.update(changes)
    return Resource(OIDC_CLIENT, props)


def test_confidential_client_with_exact_redirects() -> None:
    assert confidential_client.violations(client()) == []
    [message] = confidential_client.violations(client(accessType="PUBLIC"))
    assert "access_type='CONFIDENTIAL'" in message
    [message] = confidential_client.violations(client(validPostLogoutRedirectUris=["*"]))
    assert (
        "validPostLogoutRedirectUris" in message and "mlflow-keycloak-stack:mlflowPort" in message
    )
    assert (
        confidential_client.violations(client(validRedirectUris=UNKNOWN, accessType=UNKNOWN)) == []
    )


def test_a_client_can_be_exempted() -> None:
    public = client(clientId="cli", accessType="PUBLIC")
    assert confidential_client.violations(public)
    assert confidential_client.violations(public, {"exemptClientIds": ["cli"]}) == []


def assert_realm_setting(rule: Rule, key: str, value: Any, passes: bool) -> None:
    """The realm with ``key`` set to ``value`` passes ``rule`` or is refused naming the stack's
    config key of the same name; an unknown value is never judged."""
    found = rule.violations(realm(**{key: value}))
    assert (found == []) is passes, found
    if not passes:
        assert f"mlflow-keycloak-stack:{key}" in found[0]
    assert rule.violations(realm(**{key: UNKNOWN})) == []


@pytest.mark.parametrize(
    ("policy", "passes"),
    [
        ("length(12) and notUsername and notEmail", True),
        ("notUsername and length(16)", True),
        ("length(8) and length(12)", True),
        ("length(11)", False),
        ("length", False),  # Keycloak's default minimum: 8
        ("maxLength(64) and digits(1)", False),
        ("", False),
        (None, False),
    ],
)
def test_password_policy_needs_a_length_floor(policy: Any, passes: bool) -> None:
    assert_realm_setting(password_policy, "passwordPolicy", policy, passes)


def test_password_floor_comes_from_policy_config_and_unknown_is_not_judged() -> None:
    assert password_policy.violations(realm(passwordPolicy="length(12)"), {"minPasswordLength": 14})
    assert (
        password_policy.violations(realm(passwordPolicy="length(8)"), {"minPasswordLength": 8})
        == []
    )
    assert password_policy.violations(realm(passwordPolicy=UNKNOWN)) == []
    schema = password_policy.config["minPasswordLength"]
    assert (schema["minimum"], schema["default"]) == (8, 12)


@pytest.mark.parametrize(("value", "passes"), [(True, True), (False, False), (None, False)])
def test_refresh_tokens_are_rotated(value: Any, passes: bool) -> None:
    assert_realm_setting(refresh_token_rotation, "revokeRefreshToken", value, passes)


@pytest.mark.parametrize(
    ("lifespan", "passes"),
    [
        (None, True),
        ("10h0m0s", True),
        ("24h", True),
        ("25h", False),
        ("8760h0m0s", False),
        ("x", False),
    ],
)
def test_sso_sessions_are_bounded(lifespan: Any, passes: bool) -> None:
    assert_realm_setting(sso_session_lifespan, "ssoSessionMaxLifespan", lifespan, passes)


def test_the_password_grant_is_refused_unless_the_client_is_allowed() -> None:
    client = Resource(OIDC_CLIENT, {"clientId": "mlflow", "directAccessGrantsEnabled": True})
    [message] = no_direct_grants.violations(client)
    assert "mlflow-keycloak-stack:directAccessGrants" in message
    assert no_direct_grants.violations(client, {"allowedClientIds": ["mlflow"]}) == []
    for enabled in (False, None, UNKNOWN):
        off = Resource(OIDC_CLIENT, {"clientId": "mlflow", "directAccessGrantsEnabled": enabled})
        assert no_direct_grants.violations(off) == []

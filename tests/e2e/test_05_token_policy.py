"""The realm Keycloak serves has exactly the token policy and audit settings of the config."""

from __future__ import annotations

from tests.support.deployment import ACCESS_TOKEN_SECONDS, Deployment


def test_token_lifespans_read_back_from_keycloak_equal_the_config(deployment: Deployment) -> None:
    realm = deployment.admin().get_realm(deployment.realm)
    assert realm["accessTokenLifespan"] == ACCESS_TOKEN_SECONDS
    assert realm["ssoSessionIdleTimeout"] == 30 * 60
    assert realm["ssoSessionMaxLifespan"] == 10 * 3600
    assert realm["offlineSessionIdleTimeout"] == 30 * 86400
    assert realm["revokeRefreshToken"] is True
    assert realm["refreshTokenMaxReuse"] == 0
    assert realm["bruteForceProtected"] is True
    assert realm["failureFactor"] == 5
    assert realm["passwordPolicy"] == "length(12) and notUsername and notEmail"


def test_events_settings_read_back_from_keycloak_equal_the_config(deployment: Deployment) -> None:
    admin = deployment.admin()
    path = f"admin/realms/{deployment.realm}/events/config"
    events = admin.connection.raw_get(path).json()
    assert events["eventsEnabled"] is True
    assert events["eventsExpiration"] == 7 * 86400
    assert events["adminEventsEnabled"] is True
    assert events["adminEventsDetailsEnabled"] is True
    attributes = admin.get_realm(deployment.realm)["attributes"]
    assert attributes["adminEventsExpiration"] == str(30 * 86400)


def test_login_and_admin_events_are_stored(deployment: Deployment) -> None:
    deployment.user_tokens("alice")  # a login, and an admin event (password set) if first
    admin = deployment.admin()
    logins = admin.get_events(query={"type": "LOGIN", "max": 50})
    assert any(e.get("details", {}).get("username") == "alice" for e in logins), logins[:3]
    otto = deployment.user_id("otto")
    admin.update_user(otto, {"firstName": "Otto"})
    admin_events = admin.get_admin_events(query={"max": 100})
    assert any(
        e["operationType"] == "UPDATE"
        and e["resourceType"] == "USER"
        and e["resourcePath"] == f"users/{otto}"
        for e in admin_events
    ), admin_events[:3]

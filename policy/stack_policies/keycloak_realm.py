"""Rules on the Keycloak realm: lockout, audit events that expire, short-lived tokens and
sessions, refresh-token rotation, a password policy with a length floor."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from stackrules.durations import ACCESS_TOKEN_LIFESPAN_BOUNDS, duration_seconds

from .props import is_unknown, nested
from .resource_types import REALM, REALM_EVENTS
from .rule import Resource, Rule, config_key, rule

# Keycloak's own default when a realm sets no access token lifespan.
KEYCLOAK_DEFAULT_ACCESS_TOKEN_SECONDS = 300


def _realm_name(resource: Resource, key: str) -> str:
    name = resource.props.get(key)
    return f"'{name}'" if isinstance(name, str) else f"of {resource.name or 'this resource'}"


def _shown(value: Any) -> str:
    if value is None:
        return "unset"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return repr(value)


@rule("keycloak-brute-force-detection", REALM)
def brute_force_detection(resource: Resource, config: Mapping[str, Any]) -> Iterator[str]:
    """Every realm has securityDefenses.bruteForceDetection set (temporary lockout)."""
    detection = nested(resource.props, "securityDefenses", "bruteForceDetection")
    if is_unknown(detection) or detection is not None:
        return
    yield (
        f"Brute-force detection is off in realm {_realm_name(resource, 'realm')}: passwords can "
        "be guessed without lockout. Fix: set security_defenses.brute_force_detection on the "
        "keycloak.Realm (the stack's SsoRealm does; tune it with "
        f"{config_key('bruteForceMaxLoginFailures')})."
    )


@rule("keycloak-admin-events-expire", REALM)
def admin_events_expire(resource: Resource, config: Mapping[str, Any]) -> Iterator[str]:
    """Every realm sets the attribute adminEventsExpiration to a positive seconds count."""
    expiration = nested(resource.props, "attributes", "adminEventsExpiration")
    if is_unknown(expiration):
        return
    try:
        seconds = int(str(expiration).strip())
    except ValueError:
        seconds = 0
    if seconds > 0:
        return
    yield (
        f"Admin events of realm {_realm_name(resource, 'realm')} never expire (realm attribute "
        f"adminEventsExpiration is {_shown(expiration)}), so the audit table grows forever. "
        "Fix: set "
        "attributes={'adminEventsExpiration': '<seconds>'} on the keycloak.Realm, from stack "
        f"config {config_key('adminEventsExpiration')} (e.g. 30d)."
    )


def _lifespan_rule(
    *,
    name: str,
    prop: str,
    what: str,
    keycloak_default: str,
    limit_key: str,
    limit_default: int,
    stack_key: str,
    example: str,
    risk: str,
) -> Rule:
    """A rule bounding the duration ``prop`` of every realm (unset: Keycloak's default)."""

    def check(resource: Resource, config: Mapping[str, Any]) -> Iterator[str]:
        limit = float(config[limit_key])
        value = resource.props.get(prop)
        if is_unknown(value):
            return
        realm = _realm_name(resource, "realm")
        fix = (
            f"Fix: lower it with `pulumi config set {config_key(stack_key)} {example}`, or "
            f"raise this policy's `{limit_key}`."
        )
        try:
            seconds = duration_seconds(keycloak_default if value in (None, "") else value)
        except ValueError:
            yield f"{what} {value!r} of realm {realm} is not a duration. {fix}"
            return
        if seconds > limit:
            yield (
                f"{what} of realm {realm} is {seconds:g} s, longer than the allowed {limit:g} s: "
                f"{risk}. {fix}"
            )

    return Rule(
        name=name,
        description=(
            f"Every realm's {prop} (Keycloak's default {keycloak_default} when unset) is at most "
            f"{limit_key} (default {limit_default})."
        ),
        resource_types=frozenset({REALM}),
        check=check,
        config={
            limit_key: {
                "type": "integer",
                "minimum": 1,
                "default": limit_default,
                "description": f"Longest {what.lower()} allowed, in seconds.",
            }
        },
    )


access_token_lifespan = _lifespan_rule(
    name="keycloak-access-token-lifespan",
    prop="accessTokenLifespan",
    what="Access token lifespan",
    keycloak_default=f"{KEYCLOAK_DEFAULT_ACCESS_TOKEN_SECONDS}s",
    limit_key="maxAccessTokenLifespanSeconds",
    limit_default=ACCESS_TOKEN_LIFESPAN_BOUNDS[1],
    stack_key="accessTokenLifespan",
    example="5m",
    risk="a user whose session is revoked keeps MLflow access that long",
)

sso_session_lifespan = _lifespan_rule(
    name="keycloak-sso-session-lifespan",
    prop="ssoSessionMaxLifespan",
    what="SSO session maximum",
    keycloak_default="10h",
    limit_key="maxSsoSessionSeconds",
    limit_default=24 * 3600,
    stack_key="ssoSessionMaxLifespan",
    example="10h",
    risk="a stolen session cookie or refresh token signs its holder in that long",
)


@rule("keycloak-refresh-token-rotation", REALM)
def refresh_token_rotation(resource: Resource, config: Mapping[str, Any]) -> Iterator[str]:
    """Every realm sets revokeRefreshToken (a refresh token is used once, then rotated)."""
    revoke = resource.props.get("revokeRefreshToken")
    if is_unknown(revoke) or revoke is True:
        return
    yield (
        f"Refresh tokens of realm {_realm_name(resource, 'realm')} are not rotated "
        f"(revokeRefreshToken is {_shown(revoke)}): a stolen refresh token keeps working next "
        "to the real one until the session ends. Fix: `pulumi config set "
        f"{config_key('revokeRefreshToken')} true` (the default)."
    )


# `length` alone means Keycloak's default minimum of 8.
_LENGTH = re.compile(r"(?<![\w-])length(?:\((\d*)\))?")
KEYCLOAK_DEFAULT_MIN_LENGTH = 8


@rule(
    "keycloak-password-policy",
    REALM,
    config={
        "minPasswordLength": {
            "type": "integer",
            "minimum": 8,
            "default": 12,
            "description": "Shortest minimum password length a realm may set (ASVS: 12, >= 8).",
        }
    },
)
def password_policy(resource: Resource, config: Mapping[str, Any]) -> Iterator[str]:
    """Every realm's passwordPolicy has length(n) with n at least minPasswordLength (default 12,
    never
    below 8).
    """
    floor = int(config["minPasswordLength"])
    policy = resource.props.get("passwordPolicy")
    if is_unknown(policy):
        return
    lengths = [int(found or KEYCLOAK_DEFAULT_MIN_LENGTH) for found in _LENGTH.findall(policy or "")]
    length = max(lengths, default=0)
    if length >= floor:
        return
    shown = "no minimum length" if not lengths else f"a minimum length of {length}"
    yield (
        f"The password policy of realm {_realm_name(resource, 'realm')} ({_shown(policy or None)}) "
        f"sets {shown}, below the required {floor} (OWASP ASVS: at least 12, never below 8). "
        f"Fix: `pulumi config set {config_key('passwordPolicy')} "
        f"'length({max(floor, 12)}) and notUsername and notEmail'` (the default)."
    )


@rule("keycloak-events-stored", REALM_EVENTS)
def events_stored(resource: Resource, config: Mapping[str, Any]) -> Iterator[str]:
    """RealmEvents stores login events (eventsEnabled) with an expiration (eventsExpiration > 0) and
    stores admin events (adminEventsEnabled).
    """
    props = resource.props
    realm = _realm_name(resource, "realmId")
    if not is_unknown(props.get("eventsEnabled")) and props.get("eventsEnabled") is not True:
        yield (
            f"Login events of realm {realm} are not stored, so logins leave no audit trail. "
            "Fix: set events_enabled=True on the keycloak.RealmEvents."
        )
    expiration = props.get("eventsExpiration")
    if not is_unknown(expiration) and not (
        isinstance(expiration, (int, float)) and not isinstance(expiration, bool) and expiration > 0
    ):
        yield (
            f"Login events of realm {realm} never expire "
            f"(eventsExpiration is {_shown(expiration)}). "
            "Fix: set events_expiration (seconds) on the keycloak.RealmEvents, from stack config "
            f"{config_key('eventsExpiration')} (e.g. 7d)."
        )
    if (
        not is_unknown(props.get("adminEventsEnabled"))
        and props.get("adminEventsEnabled") is not True
    ):
        yield (
            f"Admin events of realm {realm} are not stored, so changes to users, clients and "
            "roles leave no audit trail. Fix: set admin_events_enabled=True on the "
            "keycloak.RealmEvents."
        )

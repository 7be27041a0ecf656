"""Rules on the Keycloak realm: lockout, audit events that expire, short-lived access tokens."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from stackrules.durations import duration_seconds

from .props import is_unknown
from .resource_types import REALM, REALM_EVENTS
from .rule import Resource, Rule, config_key

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


def check_brute_force_detection(resource: Resource, config: Mapping[str, Any]) -> Iterator[str]:
    defenses = resource.props.get("securityDefenses")
    if is_unknown(defenses):
        return
    detection = (defenses or {}).get("bruteForceDetection")
    if is_unknown(detection) or detection is not None:
        return
    yield (
        f"Brute-force detection is off in realm {_realm_name(resource, 'realm')}: passwords can "
        "be guessed without lockout. Fix: set security_defenses.brute_force_detection on the "
        "keycloak.Realm (the stack's SsoRealm does; tune it with "
        f"{config_key('bruteForceMaxLoginFailures')})."
    )


BRUTE_FORCE_DETECTION = Rule(
    name="keycloak-brute-force-detection",
    description="Every realm has securityDefenses.bruteForceDetection set (temporary lockout).",
    resource_types=frozenset({REALM}),
    check=check_brute_force_detection,
)


def check_admin_events_expire(resource: Resource, config: Mapping[str, Any]) -> Iterator[str]:
    attributes = resource.props.get("attributes")
    if is_unknown(attributes):
        return
    expiration = (attributes or {}).get("adminEventsExpiration")
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


ADMIN_EVENTS_EXPIRE = Rule(
    name="keycloak-admin-events-expire",
    description="Every realm sets the attribute adminEventsExpiration to a positive seconds count.",
    resource_types=frozenset({REALM}),
    check=check_admin_events_expire,
)


def check_access_token_lifespan(resource: Resource, config: Mapping[str, Any]) -> Iterator[str]:
    limit = float(config["maxAccessTokenLifespanSeconds"])
    lifespan = resource.props.get("accessTokenLifespan")
    if is_unknown(lifespan):
        return
    realm = _realm_name(resource, "realm")
    fix = (
        f"Fix: lower it with `pulumi config set {config_key('accessTokenLifespan')} 5m`, or "
        "raise this policy's `maxAccessTokenLifespanSeconds`."
    )
    if lifespan in (None, ""):
        seconds = float(KEYCLOAK_DEFAULT_ACCESS_TOKEN_SECONDS)
    else:
        try:
            seconds = duration_seconds(lifespan)
        except ValueError:
            yield f"Access token lifespan {lifespan!r} of realm {realm} is not a duration. {fix}"
            return
    if seconds > limit:
        yield (
            f"Access tokens of realm {realm} live {seconds:g} s, longer than the allowed "
            f"{limit:g} s: a user whose session is revoked keeps MLflow access that long. {fix}"
        )


ACCESS_TOKEN_LIFESPAN = Rule(
    name="keycloak-access-token-lifespan",
    description=(
        "Every realm's accessTokenLifespan (Keycloak's default 5m when unset) is at most "
        "maxAccessTokenLifespanSeconds (default 900)."
    ),
    resource_types=frozenset({REALM}),
    check=check_access_token_lifespan,
    config={
        "maxAccessTokenLifespanSeconds": {
            "type": "integer",
            "minimum": 1,
            "default": 900,
            "description": "Longest access token lifespan allowed, in seconds.",
        }
    },
)


def check_events_stored(resource: Resource, config: Mapping[str, Any]) -> Iterator[str]:
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


EVENTS_STORED = Rule(
    name="keycloak-events-stored",
    description=(
        "RealmEvents stores login events (eventsEnabled) with an expiration (eventsExpiration > 0) "
        "and stores admin events (adminEventsEnabled)."
    ),
    resource_types=frozenset({REALM_EVENTS}),
    check=check_events_stored,
)

"""Keycloak's representations as rows (for --json) and rich tables (for people).

Rows are plain dicts with the same keys in both forms, so a script reading --json sees what a
person reads in the table. Times are UTC, ISO 8601.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from rich import box
from rich.table import Table
from rich.text import Text

from stackrules.durations import format_duration

Row = dict[str, Any]
Names = Mapping[str, str]
# Event details that are opaque ids: kept in --json, left out of the table.
NOISY_DETAILS = ("token_id", "refresh_token_id", "code_id", "refresh_token_type")


def utc(millis: Any) -> str:
    """Keycloak's epoch milliseconds as "2026-11-28T14:54:19Z"; "" when absent."""
    if millis in (None, "", 0):
        return ""
    moment = datetime.fromtimestamp(int(millis) / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def to_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=False)


# An id is copied whole (for --session), so it never folds; other columns fold but never
# shrink below a readable width.
WHOLE = ("id",)
MIN_WIDTH = 6


Column = tuple[str, Callable[[Row], Any]]


def _cell(key: str) -> Callable[[Row], Any]:
    """A column showing the row's ``key`` (empty when it has none)."""
    return lambda row: "" if row.get(key) is None else row[key]


def _cells(*keys: str) -> list[Column]:
    """Columns showing row fields: "ip" heads its column "ip"; "IP=ip" heads it "IP"."""
    return [(key.partition("=")[0], _cell(key.partition("=")[2] or key)) for key in keys]


TIME: Column = ("time (UTC)", lambda row: when(row["time"]))


def _rows_table(title: str, rows: Sequence[Row], columns: Sequence[Column]) -> Table:
    table = _table(title, [header for header, _ in columns])
    for row in rows:
        _add_row(table, *(cell(row) for _, cell in columns))
    return table


def _table(title: str, columns: Sequence[str]) -> Table:
    table = Table(
        title=Text(title),
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        padding=(0, 1, 0, 0),
    )
    for column in columns:
        table.add_column(
            column, overflow="fold", no_wrap=column in WHOLE, min_width=min(MIN_WIDTH, len(column))
        )
    return table


def _add_row(table: Table, *cells: str | Text) -> None:
    """Cells are Keycloak's data (usernames, IPs, error details anyone can make appear by
    failing a login): shown as text, never read as rich markup."""
    table.add_row(*(cell if isinstance(cell, Text) else Text(str(cell)) for cell in cells))


def when(iso: str) -> str:
    """A row's UTC time as a table shows it: "2026-11-28 14:54:19"."""
    return iso.replace("T", " ").removesuffix("Z")


# -- sessions -------------------------------------------------------------------------------


def session_rows(sessions: Sequence[Mapping[str, Any]]) -> list[Row]:
    """UserSessionRepresentations: who, from where, since when, in which clients."""
    return [
        {
            "id": session.get("id"),
            "user": session.get("username"),
            "userId": session.get("userId"),
            "ip": session.get("ipAddress"),
            "started": utc(session.get("start")),
            "lastAccess": utc(session.get("lastAccess")),
            "clients": sorted((session.get("clients") or {}).values()),
        }
        for session in sessions
    ]


SESSION_COLUMNS: list[Column] = [
    *_cells("user", "IP=ip"),
    ("started (UTC)", lambda row: when(row["started"])),
    ("last access (UTC)", lambda row: when(row["lastAccess"])),
    ("clients", lambda row: ", ".join(row["clients"])),
    *_cells("id"),
]


def sessions_table(rows: Sequence[Row], title: str) -> Table:
    return _rows_table(title, rows, SESSION_COLUMNS)


# -- login events ---------------------------------------------------------------------------


def _username(event: Mapping[str, Any], names: Names) -> str:
    named = (event.get("details") or {}).get("username")
    user = event.get("userId")
    return str(named or names.get(str(user), user or ""))


def event_rows(events: Sequence[Mapping[str, Any]], names: Names) -> list[Row]:
    """EventRepresentations (login events); `names` maps user ids to usernames."""
    return [
        {
            "time": utc(event.get("time")),
            "type": event.get("type"),
            "user": _username(event, names),
            "client": event.get("clientId"),
            "ip": event.get("ipAddress"),
            "sessionId": event.get("sessionId"),
            "error": event.get("error"),
            "details": dict(event.get("details") or {}),
        }
        for event in events
    ]


def _details_text(details: Mapping[str, Any]) -> str:
    return " ".join(
        f"{key}={value}"
        for key, value in details.items()
        if key not in NOISY_DETAILS and key != "username"
    )


EVENT_COLUMNS: list[Column] = [
    TIME,
    *_cells("type", "user", "client", "IP=ip", "error"),
    ("details", lambda row: _details_text(row["details"])),
]


def events_table(rows: Sequence[Row], title: str) -> Table:
    return _rows_table(title, rows, EVENT_COLUMNS)


# -- admin events ---------------------------------------------------------------------------


def resource_user_id(event: Mapping[str, Any]) -> str | None:
    """The user an admin event acted on, from its resource path "users/<id>/..."."""
    parts = str(event.get("resourcePath") or "").split("/")
    return parts[1] if len(parts) > 1 and parts[0] == "users" else None


def admin_event_rows(events: Sequence[Mapping[str, Any]], names: Names) -> list[Row]:
    """AdminEventRepresentations: who (the actor) did what to which resource."""
    rows = []
    for event in events:
        auth = event.get("authDetails") or {}
        actor = str(auth.get("userId") or "")
        subject = (event.get("details") or {}).get("username") or resource_user_id(event)
        rows.append(
            {
                "time": utc(event.get("time")),
                "operation": event.get("operationType"),
                "resourceType": event.get("resourceType"),
                "resourcePath": event.get("resourcePath"),
                "user": names.get(str(subject), subject) if subject else None,
                "actor": names.get(actor, actor),
                "ip": auth.get("ipAddress"),
                "error": event.get("error"),
                "representation": event.get("representation"),
            }
        )
    return rows


ADMIN_EVENT_COLUMNS: list[Column] = [
    TIME,
    *_cells("operation", "resource=resourceType", "path=resourcePath", "user", "by=actor"),
    *_cells("IP=ip", "error"),
]


def admin_events_table(rows: Sequence[Row], title: str) -> Table:
    return _rows_table(title, rows, ADMIN_EVENT_COLUMNS)


# -- token policy ---------------------------------------------------------------------------


def _seconds(value: Any) -> str:
    return format_duration(int(value)) if value not in (None, "") else "unset"


def _on_off(value: Any) -> str:
    return "on" if value else "off"


def _refresh(realm: Mapping[str, Any]) -> str:
    if not realm.get("revokeRefreshToken"):
        return "off (refresh tokens reusable)"
    return f"on (max reuse {realm.get('refreshTokenMaxReuse', 0)})"


def _brute_force(realm: Mapping[str, Any]) -> str:
    if not realm.get("bruteForceProtected"):
        return "off"
    lockout = "permanent" if realm.get("permanentLockout") else "temporary"
    return f"on ({lockout} lockout after {realm.get('failureFactor')} failures)"


def _events(realm: Mapping[str, Any]) -> str:
    if not realm.get("eventsEnabled"):
        return "not stored"
    expiration = realm.get("eventsExpiration")
    return f"stored, kept {_seconds(expiration)}" if expiration else "stored, never expire"


def _admin_events(realm: Mapping[str, Any]) -> str:
    if not realm.get("adminEventsEnabled"):
        return "not stored"
    details = " with details" if realm.get("adminEventsDetailsEnabled") else ""
    expiration = (realm.get("attributes") or {}).get("adminEventsExpiration")
    kept = f"kept {_seconds(expiration)}" if expiration else "never expire"
    return f"stored{details}, {kept}"


Setting = tuple[str, str, tuple[str, ...], Callable[[Mapping[str, Any]], str]]


def _duration(setting: str, key: str) -> Setting:
    """A lifespan the stack config key ``key`` sets in the RealmRepresentation field ``key``."""
    return (setting, key, (key,), lambda realm: _seconds(realm.get(key)))


# (setting, stack config key that sets it, RealmRepresentation fields, how it reads)
POLICY: list[Setting] = [
    _duration("access token lifespan", "accessTokenLifespan"),
    _duration("SSO session idle", "ssoSessionIdleTimeout"),
    _duration("SSO session max", "ssoSessionMaxLifespan"),
    _duration("offline session idle", "offlineSessionIdleTimeout"),
    (
        "revoke refresh token",
        "revokeRefreshToken, refreshTokenMaxReuse",
        ("revokeRefreshToken", "refreshTokenMaxReuse"),
        _refresh,
    ),
    (
        "brute-force detection",
        "bruteForceMaxLoginFailures",
        ("bruteForceProtected", "permanentLockout", "failureFactor"),
        _brute_force,
    ),
    ("login events", "eventsExpiration", ("eventsEnabled", "eventsExpiration"), _events),
    (
        "admin events",
        "adminEventsExpiration",
        ("adminEventsEnabled", "adminEventsDetailsEnabled", "attributes.adminEventsExpiration"),
        _admin_events,
    ),
    (
        "password policy",
        "passwordPolicy",
        ("passwordPolicy",),
        lambda r: str(r.get("passwordPolicy") or "none"),
    ),
]


def _field(realm: Mapping[str, Any], path: str) -> Any:
    value: Any = realm
    for part in path.split("."):
        value = (value or {}).get(part)
    return value


def policy_rows(realm: Mapping[str, Any]) -> list[Row]:
    """The realm's token policy as deployed, each line with the config key that sets it."""
    return [
        {
            "setting": setting,
            "deployed": describe(realm),
            "configKey": key,
            "fields": {name: _field(realm, name) for name in fields},
        }
        for setting, key, fields, describe in POLICY
    ]


def policy_table(rows: Sequence[Row], title: str) -> Table:
    columns = _cells("setting", "deployed", "stack config key=configKey")
    return _rows_table(title, rows, columns)


def services_table(services: Sequence[Row]) -> Table:
    table = _table("Services", ["service", "URL", "health", "detail"])
    for service in services:
        health = Text("ok", style="green") if service["healthy"] else Text("DOWN", style="red")
        _add_row(table, service["name"], service["url"], health, service["detail"])
    return table


def departures_table(rows: Sequence[Row]) -> Table:
    """`users reconcile`'s plan: each account, why its person left, what is done to it."""

    def action(row: Row) -> str:
        return "deactivate" if row["deactivate"] else "end tokens and sessions"

    return _rows_table(
        "MLflow accounts to offboard", rows, [*_cells("account", "reason"), ("action", action)]
    )


def stale_table(rows: Sequence[Row], title: str) -> Table:
    """`users stale`: who never replaced their temporary password, created when."""
    return _rows_table(title, rows, _cells("username", "created (UTC)=created"))


def people_rows(people: Sequence[Row]) -> list[Row]:
    """`users list`: realm.people's rows, their creation time in UTC."""
    rows = []
    for person in people:
        row = dict(person)
        row["created"] = utc(row.pop("createdTimestamp", None))
        rows.append(row)
    return rows


def people_table(rows: Sequence[Row], title: str) -> Table:
    """`users list`: each person, enabled or not, groups, origin and MLflow account."""
    columns: list[Column] = [
        *_cells("username", "email"),
        ("enabled", lambda row: "yes" if row["enabled"] else "NO"),
        ("groups", lambda row: ", ".join(row["groups"])),
        *_cells("source", "MLflow account=mlflowAccount", "created (UTC)=created"),
    ]
    return _rows_table(title, rows, columns)


def grants_table(rows: Sequence[Row], title: str) -> Table:
    """`permissions list`: who (a group or a person), on what, which pattern, which level."""
    columns: list[Column] = [
        ("group or person", lambda row: row.get("group") or row.get("user")),
        *_cells("resource", "pattern", "level", "priority"),
    ]
    return _rows_table(title, rows, columns)
